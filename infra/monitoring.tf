# Monitoring as code: what must page someone when work is being lost, and one dashboard with the same series.
#
# Five signals, each an alert policy and a dashboard tile (the three log-based ones made from one map,
# local.log_metrics, so that none goes without its alert):
#   workers_5xx        the share of 5xx answers of the functions that Cloud Tasks, Cloud Scheduler and Eventarc
#                      call. A 503 `retry_later` is one of them: sustained, it means Google keeps refusing us.
#   dead_letters       tasks that failed their queue's last attempt (log-based metric, contract below)
#   needs_reconnect    links that lost their Google grant (log-based metric, contract below)
#   queue_delay        how late Cloud Tasks runs tasks past their scheduled time, per queue
#   scheduler_failures failed attempts of the Cloud Scheduler jobs (log-based metric)
#
# The log contract. Every function logs one JSON object per line (shared/logs.py); Cloud Logging keeps every
# key but `severity`/`message`/`logging.googleapis.com/*` under jsonPayload, and a gen2 function's lines
# are entries of the resource type cloud_run_revision (its Cloud Run service). The metrics below count:
#   {"event": "dead_letter", "queue": "push"|"pull", "linkId": ..., "severity": "ERROR", ...}
#       written by a worker when it fails a task on the queue's last attempt (X-CloudTasks-TaskRetryCount
#       + 1 == the queue's max_attempts, tasks.tf): after that answer Cloud Tasks drops the task.
#   {"event": "link_needs_reconnect", "linkId": ..., "clinicId": ..., "severity": "WARNING", ...}
#       written once when a link moves to needs_reconnect. Until the services emit that field, the same
#       moment is matched by its current message, "google access lost" (shared/services/access.py).
# The event names are shared/logs.py's EVENT_* constants; tests/unit/test_monitoring_tf.py checks that the
# filters here and the code agree.
#
# Metric sources: Google Cloud's list of metrics ("Google Cloud metrics", sections run and cloudtasks; the
# metric ids and descriptions below are as that list and the monitoring vendors' copies of it give them).
# The label names used in filters (response_code_class, queue_id, service_name) are worth a look in
# Metrics Explorer after the first apply: a filter on a wrong label matches nothing, silently.
#   run.googleapis.com/request_count         DELTA INT64 on cloud_run_revision, labelled response_code_class
#                                            ("2xx", "4xx", "5xx", ...).
#   cloudtasks.googleapis.com/queue/depth    GAUGE INT64 on cloud_tasks_queue (labels queue_id, location):
#                                            tasks in the queue.
#   cloudtasks.googleapis.com/queue/task_attempt_delays
#                                            DELTA DISTRIBUTION, milliseconds: scheduled attempt time to actual
#                                            attempt time.
# Cloud Tasks exports no "oldest task age" metric (Pub/Sub has one for subscriptions; for queues only the
# API's QueueStats.oldest_estimated_arrival_time, which is not a metric). The age of a backlog shows instead
# as tasks run later than their schedule_time: the attempt delay. Deferred tasks (a quota deferral is a
# task scheduled a minute later) do not count, since their delay is measured from their own schedule.

locals {
  # The functions behind the 5xx alert: those only Google's services call, so a 5xx is never a caller's fault.
  monitored_workers = [for name, fn in local.functions : name if contains(["tasks", "scheduler", "eventarc"], fn.invoker)]

  # A gen2 function's Cloud Run service: its short name (service_config.service may be the full
  # projects/.../services/NAME, so only the last segment is kept).
  worker_services = [
    for name in local.monitored_workers : reverse(split("/", google_cloudfunctions2_function.function[name].service_config[0].service))[0]
  ]
  worker_service_filter = "resource.labels.service_name = one_of(${join(", ", [for s in local.worker_services : "\"${s}\""])})"

  # Cloud Scheduler job ids (scheduler.tf names them after their function, with hyphens).
  scheduler_job_ids = [for job in google_cloud_scheduler_job.job : job.name]

  alert_channels = [for channel in google_monitoring_notification_channel.email : channel.id]

  # Alert thresholds.
  workers_5xx_ratio           = 0.1    # of the workers' answers, over 10 minutes
  queue_delay_threshold_ms    = 600000 # p99 attempt 10 minutes late
  needs_reconnect_per_hour    = 5      # one is a user revoking access; several at once is our fault
  monitoring_alignment_period = "300s"
}

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == null ? 0 : 1

  project      = var.project_id
  display_name = "Calendar sync operators"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }

  depends_on = [google_project_service.enabled]
}

# --- log-based metrics, each with its alert ------------------------------------------------------------
locals {
  # Per metric (calendar_sync_<key>):
  #   resource, filter  the entries counted: a resource type, and a Logging query on top of it
  #   label, extract    one label of the metric and where it comes from ("" for none)
  #   threshold, period the alert fires when more than `threshold` entries fall within `period`
  log_metrics = {
    dead_letters = {
      description   = "Tasks a worker failed on their queue's last attempt: Cloud Tasks drops them afterwards."
      resource      = "cloud_run_revision"
      filter        = "jsonPayload.event=\"dead_letter\""
      label         = "queue"
      label_help    = "The Cloud Tasks queue of the task (push or pull)."
      extract       = "EXTRACT(jsonPayload.queue)"
      threshold     = 0
      period        = local.monitoring_alignment_period
      alert         = "Calendar sync: tasks dropped after their last attempt"
      documentation = "A push or pull task failed all its attempts and Cloud Tasks dropped it. The log line (`jsonPayload.event=\"dead_letter\"`) names the link; the worker kept a dead letter under it (clinics/{c}/syncLinks/{l}/deadLetters, counted in the link's pendingFailures) and the next drift_check repairs it once Google answers again (resync_link does it at once). A count that does not go down means Google still refuses: look at the link's lastError."
    }
    needs_reconnect = {
      description   = "Links that lost their Google grant and wait for their user to link again."
      resource      = "cloud_run_revision"
      filter        = "(jsonPayload.event=\"link_needs_reconnect\" OR jsonPayload.message=\"google access lost\")"
      label         = ""
      label_help    = ""
      extract       = ""
      threshold     = local.needs_reconnect_per_hour
      period        = "3600s"
      alert         = "Calendar sync: links losing their Google grant"
      documentation = "Many links moved to needs_reconnect within an hour: users revoking access one by one is normal, many together points at the OAuth client (secret rotated, client deleted, app unverified) or the token-encryption key."
    }
    # Cloud Scheduler logs each attempt of a job as an entry of the resource type cloud_scheduler_job, a
    # failed attempt (the function answered an error, timed out, or refused the OIDC token) at severity
    # ERROR. That is how its logs read; it was not checked against a failing job here.
    scheduler_failures = {
      description   = "Failed attempts of the Cloud Scheduler jobs renew-channels and reconcile-links."
      resource      = "cloud_scheduler_job"
      filter        = "severity>=ERROR AND resource.labels.job_id=(${join(" OR ", [for id in local.scheduler_job_ids : "\"${id}\""])})"
      label         = "job"
      label_help    = "The Cloud Scheduler job id."
      extract       = "EXTRACT(resource.labels.job_id)"
      threshold     = 0
      period        = local.monitoring_alignment_period
      alert         = "Calendar sync: scheduled upkeep failing"
      documentation = "A scheduled run failed. Without renew-channels, watch channels expire within a week and Google's notifications stop; without reconcile-links, missed notifications are not caught up."
    }
  }
}

resource "google_logging_metric" "count" {
  for_each = local.log_metrics

  project     = var.project_id
  name        = "calendar_sync_${each.key}"
  description = each.value.description
  filter      = "resource.type=\"${each.value.resource}\" AND ${each.value.filter}"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    dynamic "labels" {
      for_each = each.value.label == "" ? [] : [each.value.label]
      content {
        key         = labels.value
        value_type  = "STRING"
        description = each.value.label_help
      }
    }
  }
  label_extractors = each.value.label == "" ? {} : { (each.value.label) = each.value.extract }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "log_metric" {
  for_each = local.log_metrics

  project               = var.project_id
  display_name          = each.value.alert
  combiner              = "OR"
  notification_channels = local.alert_channels

  conditions {
    display_name = "more than ${each.value.threshold} within ${each.value.period}"
    condition_threshold {
      filter          = "resource.type = \"${each.value.resource}\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.count[each.key].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = "0s"
      aggregations {
        alignment_period     = each.value.period
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = each.value.label == "" ? [] : ["metric.labels.${each.value.label}"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = each.value.documentation
  }
}

# --- alert policies ---------------------------------------------------------------------------------------
resource "google_monitoring_alert_policy" "workers_5xx" {
  project               = var.project_id
  display_name          = "Calendar sync: workers answer 5xx"
  combiner              = "OR"
  notification_channels = local.alert_channels

  conditions {
    display_name = "5xx share of a worker's answers above ${local.workers_5xx_ratio * 100}% for 10 minutes"
    condition_threshold {
      filter             = "resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\" AND ${local.worker_service_filter}"
      denominator_filter = "resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\" AND ${local.worker_service_filter}"
      comparison         = "COMPARISON_GT"
      threshold_value    = local.workers_5xx_ratio
      duration           = "600s"
      aggregations {
        alignment_period     = local.monitoring_alignment_period
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
      denominator_aggregations {
        alignment_period     = local.monitoring_alignment_period
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A worker (push_worker, pull_worker, the scheduled upkeep or the appointment trigger) answers 5xx. A 503 `retry_later` means Google refuses us (quota, outage) and Cloud Tasks retries; anything else is a bug logged as `unexpected error` with its trace. Follow one change through its `logging.googleapis.com/trace` in Logs Explorer."
  }
}

resource "google_monitoring_alert_policy" "queue_delay" {
  project               = var.project_id
  display_name          = "Calendar sync: Cloud Tasks queue running late"
  combiner              = "OR"
  notification_channels = local.alert_channels

  conditions {
    display_name = "p99 attempt delay above ${local.queue_delay_threshold_ms / 60000} minutes for 15 minutes"
    condition_threshold {
      filter          = "resource.type = \"cloud_tasks_queue\" AND metric.type = \"cloudtasks.googleapis.com/queue/task_attempt_delays\" AND resource.labels.queue_id = one_of(\"${google_cloud_tasks_queue.push.name}\", \"${google_cloud_tasks_queue.pull.name}\")"
      comparison      = "COMPARISON_GT"
      threshold_value = local.queue_delay_threshold_ms
      duration        = "900s"
      aggregations {
        alignment_period     = local.monitoring_alignment_period
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.labels.queue_id"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Tasks run much later than scheduled: the queue's rate limit (tasks.tf) or the worker's instances cannot keep up, so changes reach Google late. See the queue depth on the dashboard."
  }
}

# --- dashboard --------------------------------------------------------------------------------------------
locals {
  # One tile per series: Google's metrics, then every log-based metric (titled as its alert).
  dashboard_series = merge(
    {
      "Workers: 5xx answers per second" = {
        filter   = "resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\" AND ${local.worker_service_filter}"
        aligner  = "ALIGN_RATE"
        reducer  = "REDUCE_SUM"
        group_by = ["resource.labels.service_name"]
      }
      "Queues: p99 attempt delay (ms)" = {
        filter   = "resource.type = \"cloud_tasks_queue\" AND metric.type = \"cloudtasks.googleapis.com/queue/task_attempt_delays\""
        aligner  = "ALIGN_PERCENTILE_99"
        reducer  = "REDUCE_MAX"
        group_by = ["resource.labels.queue_id"]
      }
      "Queues: depth" = {
        filter   = "resource.type = \"cloud_tasks_queue\" AND metric.type = \"cloudtasks.googleapis.com/queue/depth\""
        aligner  = "ALIGN_MAX"
        reducer  = "REDUCE_SUM"
        group_by = ["resource.labels.queue_id"]
      }
    },
    {
      for key, metric in local.log_metrics : metric.alert => {
        filter   = "resource.type = \"${metric.resource}\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.count[key].name}\""
        aligner  = "ALIGN_SUM"
        reducer  = "REDUCE_SUM"
        group_by = metric.label == "" ? [] : ["metric.labels.${metric.label}"]
      }
    },
  )
}

resource "google_monitoring_dashboard" "sync" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "Calendar sync"
    gridLayout = {
      columns = 2
      widgets = [
        for title, series in local.dashboard_series : {
          title = title
          xyChart = {
            dataSets = [{
              plotType = "LINE"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter = series.filter
                  aggregation = {
                    alignmentPeriod    = local.monitoring_alignment_period
                    perSeriesAligner   = series.aligner
                    crossSeriesReducer = series.reducer
                    groupByFields      = series.group_by
                  }
                }
              }
            }]
          }
        }
      ]
    }
  })

  depends_on = [google_project_service.enabled]
}
