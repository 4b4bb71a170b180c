"""The console in a real browser: the seed's example played from start to end, as a newcomer plays it.

Chromium (Debian's, headless) is driven by Playwright through the whole local stack: the receptionist links
Marina's agenda two-way from centro-b through the fake Google's consent pages, the master is refused from
centro-a and authorizes from centro-b, an appointment created in the clinic shows in the Google view, and
an event moved in the Google view moves in the clinic's agenda. Each step leaves a screenshot in
reports/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter
from playwright.sync_api import Browser, Page, expect, sync_playwright

from infra.local.processes import REPO_ROOT
from infra.local.stack import LocalStack

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO_ROOT / "reports" / "screenshots"
MADRID = ZoneInfo("Europe/Madrid")
GOOGLE_EMAIL = "pau.trave.agenda@gmail.com"
SERVICE = "Fisioterapia"  # the appointment made in the clinic
GOOGLE_TITLE = "Reunión de equipo"  # the event made in Google
SERIES_TITLE = "Pilates"  # a daily series made in Google
ALL_DAY_TITLE = "Vacaciones"  # an all-day event made in Google
# How long the sync may take to show a change on the other side (push or pull through Cloud Tasks).
SYNC_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 860}, timezone_id="Europe/Madrid")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS


def functions_call(stack: LocalStack, method: str, name: str, **kwargs: Any) -> dict[str, Any]:
    url, headers = stack.function_url(name), stack.caller_headers(name)
    response = requests.request(method, url, headers=headers, timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def free_the_demo_users(stack: LocalStack) -> None:
    """Disable every link that holds pautrave or our Google account (as the master would)."""
    query = {"clinicId": "demo", "userId": "admin"}
    links = functions_call(stack, "GET", "list_links", params=query)["links"]
    for link in links:
        holding = link["status"] in ("pending_approval", "active", "needs_reconnect")
        if holding and (link["userId"] == "pautrave" or link["googleEmail"] == GOOGLE_EMAIL):
            body = {"clinicId": "demo", "userId": "admin", "linkId": link["id"]}
            functions_call(stack, "POST", "disable_link", json=body)


def remove_what_the_test_made(stack: LocalStack) -> None:
    db = stack.firestore_client()
    made = (("service", SERVICE), ("title", GOOGLE_TITLE), ("title", SERIES_TITLE), ("title", ALL_DAY_TITLE))
    for field, value in made:
        query = db.collection("clinics/demo/appointments").where(filter=FieldFilter(field, "==", value))
        for snapshot in query.stream():
            snapshot.reference.delete()


@pytest.fixture
def demo_users(local_stack: LocalStack) -> Iterator[None]:
    """pautrave and our Google account free before the test, and again after it: the stack is shared."""
    free_the_demo_users(local_stack)
    remove_what_the_test_made(local_stack)
    try:
        yield
    finally:
        # With the link disabled first, removing what the test made pushes nothing anywhere.
        free_the_demo_users(local_stack)
        remove_what_the_test_made(local_stack)


def act_as(page: Page, console: str, user: str, center: str) -> None:
    page.goto(f"{console}/")
    page.select_option("#user", user)
    page.select_option("#center", center)
    page.click("#enter")


def test_the_seed_example_in_the_browser(
    local_stack: LocalStack, demo_users: None, page: Page, screenshots: Path
) -> None:
    console = local_stack.ports.console_url
    step = iter(range(1, 100))

    def shot(name: str) -> None:
        page.screenshot(path=str(screenshots / f"{next(step):02d}-{name}.png"))

    # The receptionist, at centro-b, ticks Google Calendar and two-way editing in her profile.
    page.goto(f"{console}/?lang=es")
    expect(page.locator("h1")).to_have_text("¿Quién es usted?")
    shot("choose-user")
    act_as(page, console, "pautrave", "centro-b")
    expect(page.locator("#acting")).to_contain_text("Pau Trave en Centro B")
    expect(page.locator("#google-options")).to_be_hidden()
    page.check("#google-calendar")
    page.check("#bidirectional")
    expect(page.locator("#sign-in")).to_be_visible()
    shot("profile-google-calendar")
    page.click("#sign-in")

    # The fake Google's real pages: choose (here: type) an account, then allow access.
    expect(page.locator("#chooser-title")).to_be_visible()
    page.fill("#email", GOOGLE_EMAIL)
    page.click("#next")
    expect(page.locator("#consent-account")).to_have_text(GOOGLE_EMAIL)
    shot("google-consent")
    page.click("#allow")

    # oauth_callback sends the browser back to the console with a one-time code, which the console
    # redeems (complete_link) for the user of its session: the link waits for the master.
    outcome = page.locator("#outcome")
    expect(outcome).to_have_attribute("data-status", "pending_approval")
    link_id = outcome.get_attribute("data-link-id")
    assert link_id
    assert "status=consented" in page.url and "code=" in page.url
    expect(page.locator("#current-link")).to_contain_text(GOOGLE_EMAIL)
    shot("pending-approval")

    # The master, from centro-a, is refused: the request was made at centro-b.
    act_as(page, console, "admin", "centro-a")
    page.click("#nav-notifications")
    request_card = page.locator(f'.notification[data-link-id="{link_id}"]')
    expect(request_card).to_contain_text("Pau Trave")
    expect(request_card).to_contain_text(GOOGLE_EMAIL)
    page.click(f"#approve-{link_id}")
    expect(page.locator(".flash.error")).to_contain_text("desde el centro donde se hizo la solicitud")
    shot("refused-from-centro-a")

    # From centro-b the master authorizes: the link becomes active.
    act_as(page, console, "admin", "centro-b")
    page.click("#nav-notifications")
    page.click(f"#approve-{link_id}")
    expect(page.locator(".flash.ok")).to_contain_text("activa")
    expect(page.locator(f"#approve-{link_id}")).to_have_count(0)
    shot("authorized-from-centro-b")

    # An appointment made in the clinic shows in the Google view (the week of tomorrow, Madrid time).
    day = (datetime.now(MADRID) + timedelta(days=1)).date()
    page.goto(f"{console}/week?week={day.isoformat()}&professional=marina")
    expect(page.locator("#account-choice")).to_have_value(GOOGLE_EMAIL)
    page.fill("#appointment-date", day.isoformat())
    page.fill("#appointment-time", "10:00")
    page.select_option("#appointment-duration", "30")
    page.fill("#appointment-patient", "Ana López")
    page.fill("#appointment-service", SERVICE)
    page.select_option("#appointment-center", "centro-b")
    page.click("#create-appointment")
    in_agenda = page.locator("#agenda .item", has_text=SERVICE)
    expect(in_agenda).to_have_attribute("data-time", "10:00\u201310:30")
    expect(in_agenda).to_contain_text("Ana López")
    in_google = page.locator("#google .item", has_text=SERVICE)
    expect(in_google).to_have_attribute("data-time", "10:00\u201310:30", timeout=SYNC_TIMEOUT_MS)
    expect(in_google).to_have_attribute("data-date", day.isoformat())
    expect(in_google).not_to_contain_text("Ana")  # the clinic's privacy default: no patient in Google
    shot("appointment-in-google")

    # The user drags the event in Google Calendar: the clinic's agenda follows (two-way).
    in_google.click()
    expect(page.locator("#event h1")).to_contain_text(SERVICE)
    page.fill("#move-time", "12:00")
    shot("move-in-google")
    page.click("#move")
    expect(page.locator(".flash.ok")).to_contain_text("Evento movido en Google")
    expect(in_google).to_have_attribute("data-time", "12:00\u201312:30")
    expect(in_agenda).to_have_attribute("data-time", "12:00\u201312:30", timeout=SYNC_TIMEOUT_MS)
    shot("moved-in-the-agenda")

    # An event created in Google becomes an appointment with no patient.
    page.fill("#event-summary", GOOGLE_TITLE)
    page.fill("#event-date", day.isoformat())
    page.fill("#event-time", "16:00")
    page.select_option("#event-duration", "60")
    page.click("#create-event")
    expect(page.locator("#google .item", has_text=GOOGLE_TITLE)).to_have_attribute(
        "data-time", "16:00\u201317:00"
    )
    from_google = page.locator("#agenda .item", has_text=GOOGLE_TITLE)
    expect(from_google).to_have_attribute("data-time", "16:00\u201317:00", timeout=SYNC_TIMEOUT_MS)
    expect(from_google).to_contain_text("creada en Google")
    shot("created-in-google")

    # A series made in Google (daily, three times from the week's Monday): one appointment per instance.
    monday = day - timedelta(days=day.weekday())
    page.fill("#event-summary", SERIES_TITLE)
    page.fill("#event-date", monday.isoformat())
    page.fill("#event-time", "08:00")
    page.select_option("#event-duration", "30")
    page.select_option("#event-repeat", "DAILY")
    page.fill("#event-count", "3")
    page.click("#create-event")
    expect(page.locator("#google .item", has_text=SERIES_TITLE)).to_have_count(3)
    series_in_agenda = page.locator("#agenda .item", has_text=SERIES_TITLE)
    expect(series_in_agenda).to_have_count(3, timeout=SYNC_TIMEOUT_MS)
    for offset in range(3):
        expect(series_in_agenda.nth(offset)).to_have_attribute(
            "data-date", (monday + timedelta(days=offset)).isoformat()
        )
        expect(series_in_agenda.nth(offset)).to_have_attribute("data-time", "08:00\u201308:30")
    shot("series-in-google")

    # An all-day event made in Google (busy): an all-day block in the agenda, without patient.
    page.fill("#event-summary", ALL_DAY_TITLE)
    page.fill("#event-date", day.isoformat())
    page.select_option("#event-repeat", "")
    page.check("#event-all-day")
    page.click("#create-event")
    expect(page.locator("#google .item", has_text=ALL_DAY_TITLE)).to_have_attribute("data-all-day", "true")
    block = page.locator("#agenda .item", has_text=ALL_DAY_TITLE)
    expect(block).to_have_attribute("data-all-day", "true", timeout=SYNC_TIMEOUT_MS)
    expect(block).to_have_attribute("data-date", day.isoformat())
    expect(block).to_contain_text("creada en Google")
    shot("all-day-in-google")

    # The clinic's document moved too, and nothing was duplicated.
    db = local_stack.firestore_client()
    documents = [
        snapshot.to_dict() or {}
        for snapshot in db.collection("clinics/demo/appointments").stream()
        if (snapshot.to_dict() or {}).get("service") == SERVICE
    ]
    assert len(documents) == 1
    assert documents[0]["start"].astimezone(MADRID) == datetime.combine(day, datetime.min.time(), MADRID) + (
        timedelta(hours=12)
    )
    assert documents[0]["patientName"] == "Ana López"
    made = [
        snapshot.to_dict() or {}
        for snapshot in db.collection("clinics/demo/appointments").stream()
        if (snapshot.to_dict() or {}).get("title") in (SERIES_TITLE, ALL_DAY_TITLE)
    ]
    series = [d for d in made if d["title"] == SERIES_TITLE]
    assert len(series) == 3 and len({d["origin"]["eventId"] for d in series}) == 3
    [holiday] = [d for d in made if d["title"] == ALL_DAY_TITLE]
    assert holiday["allDay"] is True and "patientName" not in holiday
    assert holiday["start"].astimezone(MADRID) == datetime.combine(day, datetime.min.time(), MADRID)
    assert holiday["end"].astimezone(MADRID) == datetime.combine(
        day + timedelta(days=1), datetime.min.time(), MADRID
    )

    # Sync health: the link is active, two-way, with a push, a pull and a watch channel.
    page.click("#nav-health")
    row = page.locator(f'#links-body tr[data-link-id="{link_id}"]')
    expect(row).to_have_attribute("data-status", "active")
    expect(row.locator(".col-googleEmail")).to_have_text(GOOGLE_EMAIL)
    expect(row.locator(".col-bidirectional")).to_have_text("sí")
    for column in ("lastPushAt", "lastPullAt", "channelExpiresAt"):
        expect(row.locator(f".col-{column}")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"))
    expect(row.locator(".col-conflicts")).to_have_text("0")
    shot("sync-health")

    # The same page in English.
    page.click("#lang-en")
    expect(page.locator("h1")).to_have_text("Sync health")
    expect(row.locator(".col-status")).to_contain_text("active")
    expect(row.locator(".col-bidirectional")).to_have_text("yes")
