# Cloud Tasks queues: `push` carries clinic -> Google work, `pull` carries Google -> clinic work.
#
# Rate limits and Google Calendar's quotas (defaults: 10,000 requests/min per project, about 166/s, and
# 600/min per user): a push task makes one to three Calendar calls (insert; on 409 a get and a patch),
# so 40 push tasks/s stay at or below ~120 calls/s even in the worst case; a pull task lists one page or a
# few, so 5 pull tasks/s add ~10-15 calls/s. Both together stay under ~140/s, leaving room for what the
# functions call directly (calendar creation on activation, channel renewals). Variables cap the two rates
# at 80 + 20 tasks/s. A 429 from Google is answered 503 by the worker, and the queue backs off.
#
# Queue names are the defaults of shared/config.py (PUSH_QUEUE / PULL_QUEUE are set from them anyway).
# Cloud Tasks keeps a deleted queue's name reserved for about a week: do not rename lightly.

locals {
  # Attempts per task, the first one included. The workers read the same numbers (PUSH_MAX_ATTEMPTS and
  # PULL_MAX_ATTEMPTS, functions.tf) to tell a task's last attempt, on which a failure becomes a dead
  # letter (recorded on the link and logged for monitoring.tf) instead of being dropped without a trace.
  queue_max_attempts = {
    push = 10
    pull = 10
  }
}

resource "google_cloud_tasks_queue" "push" {
  name     = "push"
  location = var.region

  rate_limits {
    max_dispatches_per_second = var.push_dispatches_per_second
    # push_worker serves up to max_instances x concurrency = 10 x 8 = 80 at once (functions.tf): the queue
    # must never send more than that, or Cloud Run's 429s would eat the tasks' attempts.
    max_concurrent_dispatches = 50
  }

  # Bounded: 10 attempts, 2 s doubling to 64 s then growing linearly, ~12 minutes in all. Only
  # max_attempts is set: with max_retry_duration too, Cloud Tasks retries until BOTH are reached.
  retry_config {
    max_attempts  = local.queue_max_attempts.push
    min_backoff   = "2s"
    max_backoff   = "600s"
    max_doublings = 5
  }

  # Task attempts are logged by sampling: failures still show in the workers' own logs.
  stackdriver_logging_config {
    sampling_ratio = 0.1
  }

  depends_on = [google_project_service.enabled]
}

resource "google_cloud_tasks_queue" "pull" {
  name     = "pull"
  location = var.region

  rate_limits {
    max_dispatches_per_second = var.pull_dispatches_per_second
    # pull_worker serves up to 5 x 4 = 20 at once.
    max_concurrent_dispatches = 10
  }

  # 10 attempts, 10 s doubling to 160 s then linear up to 10 min, ~38 minutes in all; a pull that still
  # fails is caught by the next reconciliation anyway.
  retry_config {
    max_attempts  = local.queue_max_attempts.pull
    min_backoff   = "10s"
    max_backoff   = "600s"
    max_doublings = 4
  }

  stackdriver_logging_config {
    sampling_ratio = 0.1
  }

  depends_on = [google_project_service.enabled]
}

locals {
  queues = {
    push = google_cloud_tasks_queue.push
    pull = google_cloud_tasks_queue.pull
  }

  # Who may add tasks to which queue, from `enqueues` in local.functions.
  enqueuers = merge([
    for name, fn in local.functions : { for queue in fn.enqueues : "${queue}/${name}" => { queue = queue, function = name } }
  ]...)
}

resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = local.enqueuers

  project  = var.project_id
  location = local.queues[each.value.queue].location
  name     = local.queues[each.value.queue].name
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.function[each.value.function].member
}
