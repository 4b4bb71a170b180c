"""infra/monitoring.tf watches what the code does: every metric is alerted on and shown, and the log-based
metrics filter on fields and messages the code really logs.

The Terraform is read with test_terraform.py's loader (python-hcl2, no provider, no network).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from infra.local.terraform_grants import function_specs, locals_, resources, variables
from shared import logs
from tests.unit.test_terraform import ROOT, WORKERS

METRIC_TYPE = re.compile(r'metric\.type = "([^"$]+)"')
# Google's built-in metrics monitoring.tf reads (Google Cloud's metrics list, run and cloudtasks sections),
# and the resource type each is recorded on.
GOOGLE_METRICS = {
    "run.googleapis.com/request_count": "cloud_run_revision",
    "cloudtasks.googleapis.com/queue/depth": "cloud_tasks_queue",
    "cloudtasks.googleapis.com/queue/task_attempt_delays": "cloud_tasks_queue",
}


def log_series(resource: str, key: str) -> str:
    """The filter of a log-based metric's series, in Terraform's terms (`resource`, `key`: expressions)."""
    return (
        f'resource.type = "${{{resource}}}" AND '
        f'metric.type = "logging.googleapis.com/user/${{google_logging_metric.count[{key}].name}}"'
    )


def log_metrics() -> dict[str, dict[str, Any]]:
    """local.log_metrics: what each log-based metric counts and when its alert fires."""
    metrics = locals_()["log_metrics"]
    assert isinstance(metrics, dict) and metrics
    return metrics


def alert_policies() -> dict[str, dict[str, Any]]:
    return resources("google_monitoring_alert_policy")


def thresholds(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = [c for condition in policy["conditions"] for c in condition.get("condition_threshold", [])]
    assert found, "an alert policy without a threshold condition"
    return found


def dashboard_filters() -> list[str]:
    """The filter of every dashboard tile (local.dashboard_series is a merge(...) expression: read as text)."""
    dashboard = str(resources("google_monitoring_dashboard")["sync"]["dashboard_json"])
    assert "for title, series in local.dashboard_series" in dashboard
    text = str(locals_()["dashboard_series"])
    return [f.replace('\\"', '"') for f in re.findall(r'filter = "((?:[^"\\]|\\.)*)"', text)]


def builtin_filters() -> list[str]:
    """The filters on Google's own metrics: the alerts' and the dashboard's."""
    alerted = [
        t["filter"] for name, p in alert_policies().items() if name != "log_metric" for t in thresholds(p)
    ]
    return alerted + [f for f in dashboard_filters() if "logging.googleapis.com/user/" not in f]


def logged_messages() -> set[str]:
    """Every literal message of a log call (log.info("..."), ...) in the deployed code."""
    messages: set[str] = set()
    for path in [*Path(ROOT, "shared").rglob("*.py"), *Path(ROOT, "functions").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"debug", "info", "warning", "error", "exception", "critical"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                messages.add(node.args[0].value)
    return messages


def test_there_is_an_alert_for_each_signal() -> None:
    assert {"workers_5xx", "queue_delay", "log_metric"} <= set(alert_policies())
    assert set(log_metrics()) == {"dead_letters", "needs_reconnect", "scheduler_failures"}


def test_every_log_based_metric_has_an_alert_and_a_dashboard_tile() -> None:
    """Metrics, alerts and tiles are made from the same map, and each alert reads its own metric."""
    metric = resources("google_logging_metric")["count"]
    alert = alert_policies()["log_metric"]
    assert metric["for_each"] == alert["for_each"] == "${local.log_metrics}"
    assert metric["name"] == "calendar_sync_${each.key}"
    [threshold] = thresholds(alert)
    assert threshold["filter"] == log_series("each.value.resource", "each.key")
    assert threshold["threshold_value"] == "${each.value.threshold}"
    assert log_series("metric.resource", "key") in dashboard_filters()
    assert "for key, metric in local.log_metrics" in str(locals_()["dashboard_series"])


def test_every_alerted_builtin_metric_is_on_the_dashboard() -> None:
    shown = {m for f in dashboard_filters() for m in METRIC_TYPE.findall(f)}
    for name, policy in alert_policies().items():
        if name == "log_metric":
            continue
        for threshold in thresholds(policy):
            [metric] = METRIC_TYPE.findall(threshold["filter"])
            assert metric in shown, f"{metric} is alerted on but not on the dashboard"


def test_only_known_metrics_on_the_right_resources() -> None:
    filters = builtin_filters()
    assert len(filters) >= 5
    for text in filters:
        [metric] = METRIC_TYPE.findall(text)
        assert metric in GOOGLE_METRICS, f"{metric}: not one of Google's metrics this file relies on"
        assert f'resource.type = "{GOOGLE_METRICS[metric]}"' in text, text
    for name, metric in log_metrics().items():
        assert metric["resource"] in {"cloud_run_revision", "cloud_scheduler_job"}, name


def test_log_metrics_count_the_events_the_code_names() -> None:
    field = f"jsonPayload.{logs.EVENT_FIELD}"
    assert f'{field}="{logs.EVENT_DEAD_LETTER}"' in log_metrics()["dead_letters"]["filter"]
    assert f'{field}="{logs.EVENT_LINK_NEEDS_RECONNECT}"' in log_metrics()["needs_reconnect"]["filter"]


def test_messages_matched_by_a_filter_are_logged_by_the_code() -> None:
    """A filter on a message text must follow the code: a reworded log line would silence the alert."""
    matched = [
        m
        for metric in log_metrics().values()
        for m in re.findall(r'jsonPayload\.message="([^"]+)"', metric["filter"])
    ]
    assert matched, "expected the needs_reconnect metric to match today's message too"
    missing = set(matched) - logged_messages()
    assert not missing, f"no log call writes {missing}"


def test_labels_are_declared_extracted_and_grouped_together() -> None:
    metric = resources("google_logging_metric")["count"]
    descriptor = metric["metric_descriptor"][0]
    assert (descriptor["metric_kind"], descriptor["value_type"]) == ("DELTA", "INT64")
    assert (
        "each.value.label" in str(descriptor["dynamic"]) and "each.value.label" in metric["label_extractors"]
    )
    for name, spec in log_metrics().items():
        if spec["label"]:
            assert re.fullmatch(r"EXTRACT\((jsonPayload|resource\.labels)\.\w+\)", spec["extract"]), name
            assert spec["label_help"], name
        else:
            assert spec["extract"] == "", name


def test_the_5xx_alert_covers_exactly_the_workers() -> None:
    monitored = str(locals_()["monitored_workers"])
    invokers = set(re.findall(r'"(\w+)"', monitored.split("contains(", 1)[1]))
    workers = {name for name, spec in function_specs().items() if spec["invoker"] in invokers}
    assert workers == WORKERS
    [threshold] = thresholds(alert_policies()["workers_5xx"])
    assert 'metric.labels.response_code_class = "5xx"' in threshold["filter"]
    # A share of all answers, over the same functions.
    assert "${local.worker_service_filter}" in threshold["filter"]
    assert "${local.worker_service_filter}" in threshold["denominator_filter"]
    assert "response_code_class" not in threshold["denominator_filter"]
    assert "service_config[0].service" in str(locals_()["worker_services"])


def test_the_queue_alert_watches_both_queues() -> None:
    [threshold] = thresholds(alert_policies()["queue_delay"])
    for queue in resources("google_cloud_tasks_queue"):
        assert f"google_cloud_tasks_queue.{queue}.name" in threshold["filter"]
    assert threshold["aggregations"][0]["per_series_aligner"] == "ALIGN_PERCENTILE_99"


def test_the_scheduler_metric_watches_every_job() -> None:
    spec = log_metrics()["scheduler_failures"]
    assert spec["resource"] == "cloud_scheduler_job" and "severity>=ERROR" in spec["filter"]
    assert "local.scheduler_job_ids" in spec["filter"]
    assert "google_cloud_scheduler_job.job" in str(locals_()["scheduler_job_ids"])


@pytest.mark.parametrize("name", sorted(resources("google_monitoring_alert_policy")))
def test_every_alert_notifies_and_explains(name: str) -> None:
    policy = alert_policies()[name]
    assert policy["notification_channels"] == "${local.alert_channels}"
    assert policy["documentation"][0]["content"].strip()
    for threshold in thresholds(policy):
        assert threshold["comparison"] == "COMPARISON_GT"
        assert re.fullmatch(r"\d+s", threshold["duration"])


def test_notifications_go_to_the_configured_email() -> None:
    [channel] = resources("google_monitoring_notification_channel").values()
    assert channel["type"] == "email" and channel["labels"]["email_address"] == "${var.alert_email}"
    assert variables()["alert_email"]["default"] is None  # optional: no e-mail, no channel
