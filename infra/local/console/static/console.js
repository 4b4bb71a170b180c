// The console's only script: it redraws the week grids and the sync-health table from the console's
// own JSON endpoints, every 1.5 seconds, so that what the sync does shows without a reload.
(function () {
  "use strict";
  var POLL_MS = 1500;

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function initial(id) {
    var script = document.getElementById(id);
    return script ? { data: JSON.parse(script.textContent), source: script.dataset.source } : null;
  }

  // What an answer says, leaving out the time it was made at (which changes on every answer).
  function signature(data) {
    return JSON.stringify(Object.assign({}, data, { updated: null }));
  }

  // Draw `first`, then fetch `source` again and again and redraw whenever the answer changes.
  function poll(source, first, draw) {
    var last = signature(first);
    draw(first);
    function tick() {
      fetch(source, { cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) return;
          showUpdated(data.updated);
          var seen = signature(data);
          if (seen !== last) { last = seen; draw(data); }
        })
        .catch(function () { /* the stack may be restarting: try again at the next tick */ })
        .then(function () { setTimeout(tick, POLL_MS); });
    }
    setTimeout(tick, POLL_MS);
  }

  function showUpdated(time) {
    var label = document.getElementById("updated");
    if (label && time) label.textContent = label.dataset.template.replace("{time}", time);
  }

  // --- week grids ---------------------------------------------------------------------------------
  function drawGrid(grid, items) {
    if (!grid) return;
    grid.querySelectorAll(".day").forEach(function (day) { day.replaceChildren(); });
    items.forEach(function (item) {
      var day = grid.querySelector('.day[data-day="' + item.day + '"]');
      if (!day) return;
      var link = make("a", "item" + (item.cancelled ? " cancelled" : ""));
      link.href = item.href;
      link.dataset.id = item.id;
      link.dataset.date = item.date;
      link.dataset.time = item.time;
      if (item.allDay) {
        link.dataset.allDay = "true";
        link.classList.add("all-day");
      }
      link.style.top = item.top + "%";
      link.style.height = item.height + "%";
      link.style.left = (100 * item.lane / item.lanes) + "%";
      link.style.width = (100 / item.lanes) + "%";
      link.title = item.time + " " + item.title + (item.detail ? " · " + item.detail : "");
      link.append(make("span", "time", item.time), make("strong", "title", item.title));
      if (item.detail) link.append(make("span", "detail", item.detail));
      day.append(link);
    });
  }

  function drawWeek(data) {
    drawGrid(document.getElementById("agenda"), data.agenda.items);
    drawGrid(document.getElementById("google"), data.google.items);
    var message = document.getElementById("google-message");
    if (message) {
      message.textContent = data.google.message || "";
      message.hidden = !data.google.message;
    }
    var create = document.getElementById("create-event");
    if (create) create.disabled = !data.google.calendarId;
  }

  // --- sync health ----------------------------------------------------------------------------------
  var COLUMNS = ["id", "user", "professional", "center", "status", "googleEmail", "bidirectional",
                 "lastPushAt", "lastPullAt", "channelExpiresAt", "health", "lastError", "conflicts",
                 "pendingFailures", "actions"];

  function drawLinks(data) {
    var body = document.getElementById("links-body");
    if (!body) return;
    body.replaceChildren();
    if (!data.links.length) {
      var empty = make("td", "muted", body.dataset.empty);
      empty.colSpan = COLUMNS.length;
      body.append(make("tr")).append(empty);
      return;
    }
    data.links.forEach(function (link) {
      var row = make("tr");
      row.dataset.linkId = link.id;
      row.dataset.status = link.status;
      COLUMNS.forEach(function (column) {
        var cell = make("td", "col-" + column);
        if (column === "status") {
          cell.append(make("span", "status status-" + link.status, link.statusLabel));
          if (link.reason) cell.append(" ", make("code", null, link.reason));
          if (link.calendarShown) cell.append(" ", make("span", "calendar-shown", link.calendarShown));
        } else if (column === "id") {
          cell.append(make("code", null, link.id.slice(0, 8)));
          cell.title = link.id;
        } else if (column === "actions") {
          if (link.resyncUrl) {
            // A plain form post: the console's route calls resync_link and comes back here.
            var form = make("form");
            form.method = "post";
            form.action = link.resyncUrl;
            var next = make("input");
            next.type = "hidden";
            next.name = "next";
            next.value = window.location.pathname;
            var button = make("button", "resync", body.dataset.resync);
            button.type = "submit";
            form.append(next, button);
            cell.append(form);
          }
        } else if (column === "conflicts") {
          cell.textContent = link.conflicts + (link.lastConflictAt ? " (" + link.lastConflictAt + ")" : "");
        } else {
          cell.textContent = link[column];
        }
        row.append(cell);
      });
      body.append(row);
    });
  }

  // --- the profile's "Google Calendar" checkbox shows or hides its options -------------------------
  var toggle = document.getElementById("google-calendar");
  var options = document.getElementById("google-options");
  if (toggle && options) {
    toggle.addEventListener("change", function () { options.hidden = !toggle.checked; });
  }

  var week = initial("week-data");
  if (week) poll(week.source, week.data, drawWeek);
  var links = initial("links-data");
  if (links) poll(links.source, links.data, drawLinks);
})();
