# The functions: one Cloud Functions (2nd gen) resource per entry point of main.py (main.ENTRY_POINTS),
# all built from the same source bundle (source.tf), each with its own entry point, service account,
# sizing and callers.

locals {
  # The functions' URLs, https://REGION-PROJECT.cloudfunctions.net/NAME: the code builds the OAuth redirect
  # URI, the webhook address and the workers' task URLs from this base (shared/config.py).
  functions_base_url = "https://${var.region}-${var.project_id}.cloudfunctions.net"
  # Where Google's consent sends people back: the functions' address, or the app's own verified domain
  # once it serves oauth_callback (infra/README.md, step 11). Tasks and the webhook keep the functions' URLs.
  oauth_redirect_base_url = var.oauth_redirect_base_url == null ? local.functions_base_url : trimsuffix(var.oauth_redirect_base_url, "/")

  # Per function:
  #   invoker        who may call it: clinic_app (the clinic backend's service account), public (anyone:
  #                  Google's redirect and notifications, authenticated by the code), tasks / scheduler
  #                  (the invoker account's OIDC token), eventarc (the Firestore trigger's account)
  #   timeout        seconds; a clinic user or Google waits on the HTTP ones, so those stay short
  #   concurrency    requests one instance serves at once. The work is I/O (Firestore, Google APIs), so an
  #                  instance overlaps many; THREADS is set to match (functions-framework's gunicorn threads)
  #   max_instances  a ceiling against runaway cost and against outrunning Google's quotas
  #   secrets        Secret Manager secrets it reads (secrets.tf); enqueues: queues it adds tasks to
  # Memory: 512Mi holds the Google client libraries with room for concurrent requests; 1 vCPU is the
  # minimum for more than one request at a time on 2nd gen.
  functions = {
    oauth_start = {
      description     = "Clinic app: begin linking an agenda to Google; answers Google's consent URL."
      invoker         = "clinic_app"
      memory          = "512Mi"
      timeout_seconds = 30
      concurrency     = 20
      max_instances   = 10
      secrets         = []
      enqueues        = []
    }
    oauth_callback = {
      # Token exchange, then the consent is held (sealed) until complete_link redeems its one-time code.
      description     = "Google's OAuth redirect: hold the consent and send the user back to the clinic app with a one-time code."
      invoker         = "public"
      memory          = "512Mi"
      timeout_seconds = 30
      concurrency     = 20
      max_instances   = 10
      secrets         = ["oauth-client-secret", "token-encryption-key"]
      enqueues        = []
    }
    complete_link = {
      # The link counts from here: claim, the masters told, or (a master's own link, a reconnection)
      # activation: calendar creation, watch channel, backfill.
      description     = "Clinic app: redeem oauth_callback's one-time code for the user who started the link."
      invoker         = "clinic_app"
      memory          = "512Mi"
      timeout_seconds = 60
      concurrency     = 10
      max_instances   = 10
      secrets         = ["oauth-client-secret", "token-encryption-key", "webhook-token-key"]
      enqueues        = ["push"]
    }
    approve_link = {
      # Approval activates the link: the same Google work as complete_link; a rejection revokes the grant.
      description     = "Clinic app: the master approves or rejects a pending link."
      invoker         = "clinic_app"
      memory          = "512Mi"
      timeout_seconds = 60
      concurrency     = 10
      max_instances   = 10
      secrets         = ["oauth-client-secret", "token-encryption-key", "webhook-token-key"]
      enqueues        = ["push"]
    }
    disable_link = {
      # Stops the watch channel with the user's grant, then revokes the grant.
      description     = "Clinic app: disable a link; the Google calendar and its events stay."
      invoker         = "clinic_app"
      memory          = "512Mi"
      timeout_seconds = 30
      concurrency     = 20
      max_instances   = 10
      secrets         = ["oauth-client-secret", "token-encryption-key"]
      enqueues        = []
    }
    list_links = {
      description     = "Clinic app: a user's links, or the whole clinic's for a master."
      invoker         = "clinic_app"
      memory          = "512Mi"
      timeout_seconds = 30
      concurrency     = 40
      max_instances   = 10
      secrets         = []
      enqueues        = []
    }
    calendar_webhook = {
      # Google wants a fast answer and may send bursts: check the token, enqueue a pull, answer. An answer
      # costs ~1 ms of CPU, mostly the HTTP server's and Flask's, and one instance has 1 vCPU: at 20 at a
      # time the last waits ~20 ms, so a burst of 200 spreads over 10 instances (capacity 20 x 20 = 400).
      description     = "Google Calendar push notifications (public; authenticated by the channel token)."
      invoker         = "public"
      memory          = "512Mi"
      timeout_seconds = 10
      concurrency     = 20
      max_instances   = 20
      secrets         = ["webhook-token-key"]
      enqueues        = ["pull"]
    }
    push_worker = {
      # Capacity 10 x 8 = 80 >= the push queue's 50 concurrent dispatches (tasks.tf).
      description     = "Cloud Tasks: bring one appointment's event in one linked calendar up to date."
      invoker         = "tasks"
      memory          = "512Mi"
      timeout_seconds = 120
      concurrency     = 8
      max_instances   = 10
      secrets         = ["oauth-client-secret", "token-encryption-key"]
      enqueues        = []
    }
    pull_worker = {
      # A full re-sync pages through a whole window of events: long timeout, few at once.
      # Capacity 5 x 4 = 20 >= the pull queue's 10 concurrent dispatches. It re-pushes the clinic's
      # version after a conflict and continues a long pull in a follow-up task.
      description     = "Cloud Tasks: apply what changed in one two-way link's Google calendar to the clinic."
      invoker         = "tasks"
      memory          = "512Mi"
      timeout_seconds = 300
      concurrency     = 4
      max_instances   = 5
      secrets         = ["oauth-client-secret", "token-encryption-key"]
      enqueues        = ["push", "pull"]
    }
    resync_link = {
      # Only enqueues a backfill (and a full pull of a two-way link).
      description     = "Clinic app: queue a whole backfill of a link, and a full pull of a two-way link."
      invoker         = "clinic_app"
      memory          = "512Mi"
      timeout_seconds = 30
      concurrency     = 20
      max_instances   = 10
      secrets         = []
      enqueues        = ["push", "pull"]
    }
    renew_channels = {
      # One run at a time: two overlapping renewals would race on the same channels.
      description     = "Cloud Scheduler: replace watch channels that expire soon and restart missing ones."
      invoker         = "scheduler"
      memory          = "512Mi"
      timeout_seconds = 540
      concurrency     = 1
      max_instances   = 1
      secrets         = ["oauth-client-secret", "token-encryption-key", "webhook-token-key"]
      enqueues        = ["pull"]
    }
    reconcile_links = {
      # Only enqueues pulls; one run at a time.
      description     = "Cloud Scheduler: enqueue a pull of every active two-way link."
      invoker         = "scheduler"
      memory          = "512Mi"
      timeout_seconds = 300
      concurrency     = 1
      max_instances   = 1
      secrets         = []
      enqueues        = ["pull"]
    }
    drift_check = {
      # One Calendar list per one-way link and a query per link; repairs are push tasks. One run at a time.
      description     = "Cloud Scheduler: find and repair what differs between the clinic and each linked calendar."
      invoker         = "scheduler"
      memory          = "512Mi"
      timeout_seconds = 540
      concurrency     = 1
      max_instances   = 1
      secrets         = ["oauth-client-secret", "token-encryption-key"]
      enqueues        = ["push", "pull"]
    }
    on_appointment_written = {
      # Fans one write out into push tasks: quick. Eventarc retries (with backoff) what it cannot deliver.
      description     = "Eventarc: an appointment was created, changed or deleted; enqueue the pushes."
      invoker         = "eventarc"
      memory          = "512Mi"
      timeout_seconds = 60
      concurrency     = 20
      max_instances   = 20
      secrets         = []
      enqueues        = ["push"]
    }
  }

  # Environment of every function: everything shared/config.py reads in the cloud. Local-only variables
  # (emulator hosts, GOOGLE_BASE_URL, CONSOLE_URL) are absent on purpose.
  runtime_env = {
    GOOGLE_CLOUD_PROJECT         = var.project_id
    FUNCTION_REGION              = var.region
    FUNCTIONS_BASE_URL           = local.functions_base_url
    OAUTH_REDIRECT_BASE_URL      = local.oauth_redirect_base_url
    OAUTH_CLIENT_ID              = var.oauth_client_id
    SECRETS_BACKEND              = "secretmanager"
    TASKS_LOCATION               = google_cloud_tasks_queue.push.location
    PUSH_QUEUE                   = google_cloud_tasks_queue.push.name
    PULL_QUEUE                   = google_cloud_tasks_queue.pull.name
    PUSH_MAX_ATTEMPTS            = tostring(local.queue_max_attempts.push)
    PULL_MAX_ATTEMPTS            = tostring(local.queue_max_attempts.pull)
    TASKS_SERVICE_ACCOUNT        = google_service_account.invoker["tasks"].email
    CALENDAR_NAME                = var.calendar_name
    RETURN_URL_HOSTS             = join(",", var.return_url_hosts)
    BACKFILL_DAYS                = tostring(var.backfill_days)
    OAUTH_STATE_TTL_SECONDS      = tostring(var.oauth_state_ttl_seconds)
    LINK_CODE_TTL_SECONDS        = tostring(var.link_code_ttl_seconds)
    CHANNEL_TTL_SECONDS          = tostring(var.channel_ttl_seconds)
    CHANNEL_RENEW_MARGIN_SECONDS = tostring(var.channel_renew_margin_seconds)
    FULL_SYNC_DAYS_BACK          = tostring(var.full_sync_days_back)
    # The reconciliation pulls of one run are coalesced over its own period (scheduler.tf).
    RECONCILE_INTERVAL_SECONDS = tostring(var.reconcile_interval_minutes * 60)
    # Cloud Functions adds this itself (execution ids in logs); stating it avoids a perpetual diff.
    LOG_EXECUTION_ID = "true"
  }

  # The one member allowed to invoke each kind of private function: the tasks' and the scheduler's
  # accounts are distinct (iam.tf), so neither can call the other's functions.
  invoker_members = {
    clinic_app = "serviceAccount:${var.clinic_app_service_account}"
    tasks      = google_service_account.invoker["tasks"].member
    scheduler  = google_service_account.invoker["scheduler"].member
    eventarc   = google_service_account.eventarc.member
  }
}

resource "google_cloudfunctions2_function" "function" {
  for_each = local.functions

  project = var.project_id
  # The name is also the URL path (FUNCTIONS_BASE_URL/NAME) the code computes: it must equal the entry point.
  name        = each.key
  location    = var.region
  description = each.value.description
  labels      = var.labels

  build_config {
    runtime         = "python312"
    entry_point     = each.key
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket_object.source.bucket
        # Named by the bundle's hash: a code change is a new object, hence a new build of every function.
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = "1"
    timeout_seconds                  = each.value.timeout_seconds
    max_instance_request_concurrency = each.value.concurrency
    # Scale to zero: an occasional cold start of a few seconds is acceptable for linking, which is rare.
    min_instance_count = 0
    max_instance_count = each.value.max_instances
    # Eventarc's deliveries are internal traffic. Tasks, Scheduler, Google and the clinic backend reach the
    # others from outside; IAM (below) decides who gets in.
    ingress_settings               = each.value.invoker == "eventarc" ? "ALLOW_INTERNAL_ONLY" : "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.function[each.key].email
    environment_variables          = merge(local.runtime_env, { THREADS = tostring(each.value.concurrency) })
  }

  dynamic "event_trigger" {
    for_each = contains(keys(local.firestore_triggers), each.key) ? [local.firestore_triggers[each.key]] : []

    content {
      # A Firestore trigger lives where the database is.
      trigger_region        = var.firestore_location
      event_type            = event_trigger.value.event_type
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.eventarc.email

      # No `namespace` filter: native-mode documents have no namespace to select, and a filter that
      # matched nothing would drop every event without a trace.
      event_filters {
        attribute = "database"
        value     = local.firestore_database
      }
      event_filters {
        attribute = "document"
        value     = event_trigger.value.document
        operator  = "match-path-pattern"
      }
    }
  }

  depends_on = [
    google_project_service.enabled,
    google_project_iam_member.build,
    google_storage_bucket_iam_member.build_reads_source,
    google_project_iam_member.eventarc_receiver,
    google_service_account_iam_member.pubsub_mints_eventarc_tokens,
  ]
}

# Private functions: only their one caller may invoke them (2nd gen functions are Cloud Run services).
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = { for name, fn in local.functions : name => fn if fn.invoker != "public" }

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = local.invoker_members[each.value.invoker]
}

# Public functions: Google's OAuth redirect (a user's browser) and Google's push notifications carry no
# Google identity token. The code authenticates them instead: a single-use, expiring `state`; a per-channel
# token checked in constant time.
resource "google_cloud_run_v2_service_iam_member" "public" {
  #checkov:skip=CKV_GCP_102:oauth_callback and calendar_webhook are called by browsers and Google's notification servers without credentials; the code checks the OAuth state and the channel token
  for_each = { for name, fn in local.functions : name => fn if fn.invoker == "public" }

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}
