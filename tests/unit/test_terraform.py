"""The Terraform in infra/ deploys what the code expects: every entry point, queue, secret and setting.

The .tf files are parsed with python-hcl2 (no provider, no network). Values that are plain literals or
`local.X` / `var.X` references are resolved; anything else is treated as opaque text.
"""

from __future__ import annotations

import ast
import glob
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest

from infra.local import terraform_grants as tf
from shared import config

ROOT = Path(__file__).resolve().parents[2]

# Environment variables the code reads that the cloud deployment deliberately does not set.
LOCAL_ONLY_ENV = {
    "FIRESTORE_EMULATOR_HOST",  # the local Firestore emulator
    "CLOUD_TASKS_EMULATOR_HOST",  # the local Cloud Tasks emulator
    "GOOGLE_BASE_URL",  # the local fake Google
    "CONSOLE_URL",  # the local console
    "GCP_PROJECT",  # legacy alias, read only when GOOGLE_CLOUD_PROJECT is absent (it is set)
}
# Secrets come from the environment only with SECRETS_BACKEND=env (locally); in the cloud, Secret Manager.
LOCAL_ONLY_ENV_PREFIXES = ("SECRET_",)
# Set by the Cloud Run platform itself, never by us.
PLATFORM_ENV = {
    "K_SERVICE",
    "K_REVISION",
    "K_CONFIGURATION",
    "PORT",
    "FUNCTION_TARGET",
    "FUNCTION_SIGNATURE_TYPE",
}

# Called by Cloud Tasks, Cloud Scheduler or Eventarc: never by anyone else.
WORKERS = {
    "push_worker",
    "pull_worker",
    "renew_channels",
    "reconcile_links",
    "drift_check",
    "on_appointment_written",
}
# Called by the clinic app's backend with its service account.
CLINIC_FACING = {"oauth_start", "complete_link", "approve_link", "disable_link", "resync_link", "list_links"}
# Google's OAuth redirect and Google's push notifications carry no identity: the code authenticates them.
PUBLIC = {"oauth_callback", "calendar_webhook"}
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}
INVOKER_RESOURCES = (
    "google_cloud_run_v2_service_iam_member",
    "google_cloud_run_v2_service_iam_binding",
    "google_cloud_run_service_iam_member",
    "google_cloud_run_service_iam_binding",
    "google_cloudfunctions2_function_iam_member",
    "google_cloudfunctions2_function_iam_binding",
)
CALENDAR_PROJECT_QUOTA_PER_SECOND = 10_000 / 60


# --- reading the Terraform (infra/local/terraform_grants.py: the local stack reads it the same way) -------
def resolve(value: Any) -> Any:
    """A literal as it is; `${local.X}` and `${var.X}` (its default) resolved; anything else unchanged."""
    try:
        return tf.resolve(value)
    except tf.TerraformError as exc:
        raise AssertionError(str(exc)) from None


def first(blocks: Any) -> dict[str, Any]:
    try:
        return tf.first(blocks)
    except tf.TerraformError as exc:
        raise AssertionError(str(exc)) from None


terraform = tf.terraform
resources = tf.resources
variables = tf.variables
instances = tf.instances


def function_resources() -> dict[str, dict[str, Any]]:
    """Every Cloud Functions (2nd gen) instance, by function name, with its resource body."""
    functions: dict[str, dict[str, Any]] = {}
    for resource_name, body in resources("google_cloudfunctions2_function").items():
        for key in instances(body):
            name = key if body.get("name") == "${each.key}" else str(body.get("name"))
            assert name not in functions, f"function {name} is defined twice (again in {resource_name})"
            functions[name] = body
    return functions


def function_specs() -> dict[str, dict[str, Any]]:
    """The per-function settings map (local.functions) the function resource iterates over."""
    specs = resolve(first_function_body()["for_each"])
    assert isinstance(specs, dict)
    assert specs == tf.function_specs()
    return specs


def first_function_body() -> dict[str, Any]:
    bodies = list(resources("google_cloudfunctions2_function").values())
    assert len(bodies) == 1, (
        "expected one google_cloudfunctions2_function resource iterating over the functions"
    )
    return bodies[0]


def entry_points() -> dict[str, str]:
    """main.ENTRY_POINTS, read from the source (importing main would import every function)."""
    tree = ast.parse((ROOT / "main.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "ENTRY_POINTS" for target in node.targets
        ):
            value = ast.literal_eval(node.value)
            assert isinstance(value, dict)
            return value
    raise AssertionError("main.py defines no ENTRY_POINTS")


def environment_keys(body: dict[str, Any]) -> set[str]:
    """Names in a function's service_config.environment_variables: a map, a local, or merge(...) of those."""
    value = first(body["service_config"])["environment_variables"]
    resolved = resolve(value)
    if isinstance(resolved, dict):
        return set(resolved)
    text = str(value)
    assert text.startswith("${merge("), f"cannot read environment_variables = {value!r}"
    keys: set[str] = set()
    for name in re.findall(r"local\.(\w+)", text):
        local = resolve(f"${{local.{name}}}")
        assert isinstance(local, dict), f"local.{name} merged into the environment is not a map"
        keys |= set(local)
    keys |= set(re.findall(r"[{,]\s*(\w+)\s*=", text))
    return keys


# --- reading the Python ------------------------------------------------------------------------------
def env_reads(path: Path) -> Iterator[tuple[str, int]]:
    """Literal names of environment variables read in a module: env.get("X"), os.getenv("X"), env["X"]."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        name_node: ast.expr | None = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if isinstance(func, ast.Attribute) and (
                (func.attr == "get" and _is_environment(func.value)) or func.attr == "getenv"
            ):
                name_node = node.args[0]
        elif (
            isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environment(node.value)
        ):
            name_node = node.slice
        if isinstance(name_node, ast.Constant) and isinstance(name_node.value, str):
            yield name_node.value, name_node.lineno


def _is_environment(node: ast.expr) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return name in {"env", "environ"}


def settings_env_vars() -> dict[str, str]:
    """The environment variables `Settings` reads through pydantic-settings: its fields' aliases."""
    found: dict[str, str] = {}
    for field_name, field in config.Settings.model_fields.items():
        alias = field.validation_alias
        for choice in getattr(alias, "choices", [alias] if alias else []):
            if isinstance(choice, str) and choice.isupper():
                found.setdefault(choice, f"shared/config.py Settings.{field_name}")
    return found


def code_env_vars() -> dict[str, str]:
    """Every environment variable shared/ and functions/ read, with where it is read."""
    found: dict[str, str] = settings_env_vars()
    for package in ("shared", "functions"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for name, line in env_reads(path):
                found.setdefault(name, f"{path.relative_to(ROOT)}:{line}")
    return found


# --- entry points and functions ----------------------------------------------------------------------
def test_every_entry_point_has_a_function() -> None:
    missing = set(entry_points()) - set(function_resources())
    assert not missing, f"entry points of main.py with no google_cloudfunctions2_function: {sorted(missing)}"


def test_every_function_is_an_entry_point() -> None:
    unknown = set(function_resources()) - set(entry_points())
    assert not unknown, f"functions in infra/ that main.ENTRY_POINTS does not export: {sorted(unknown)}"


def test_each_function_runs_its_own_entry_point_on_python312() -> None:
    body = first_function_body()
    build = first(body["build_config"])
    assert body["name"] == "${each.key}", "the function name is the URL path the code computes: use each.key"
    assert build["entry_point"] == "${each.key}", "entry_point must be the function's own name"
    assert build["runtime"] == "python312"


def test_all_functions_deploy_one_bundle_named_by_its_hash() -> None:
    storage = first(first(first(first_function_body()["build_config"])["source"])["storage_source"])
    assert storage["object"] == "${google_storage_bucket_object.source.name}"
    bundle = resources("google_storage_bucket_object")["source"]
    assert re.search(r"data\.archive_file\.source\.output_(md5|sha\w*|base64sha\w*)", bundle["name"]), (
        f"the bundle object must be named by the archive's hash so a code change redeploys: {bundle['name']!r}"
    )
    assert "source" in resources("google_storage_bucket")


def test_cloudevent_entry_points_are_exactly_the_firestore_triggers() -> None:
    cloudevent = {name for name, kind in entry_points().items() if kind == "cloudevent"}
    triggers = resolve("${local.firestore_triggers}")
    assert set(triggers) == cloudevent, (
        f"cloudevent entry points {sorted(cloudevent)} must be exactly the Firestore triggers {sorted(triggers)}"
    )
    dynamic = first_function_body().get("dynamic", [])
    blocks = [block["event_trigger"] for block in dynamic if "event_trigger" in block]
    assert len(blocks) == 1, "the function resource needs one dynamic event_trigger block"
    assert "local.firestore_triggers" in blocks[0]["for_each"], (
        "event_trigger must come from local.firestore_triggers"
    )


def test_appointment_trigger_matches_the_documents_and_retries() -> None:
    trigger = resolve("${local.firestore_triggers}")["on_appointment_written"]
    assert trigger["event_type"] == "google.cloud.firestore.document.v1.written"
    assert trigger["document"] == "clinics/{clinicId}/appointments/{apptId}"
    content = first(first_function_body()["dynamic"][0]["event_trigger"]["content"])
    assert content["retry_policy"] == "RETRY_POLICY_RETRY", "a failed delivery must be retried"
    filters = {f["attribute"]: f for f in content["event_filters"]}
    assert set(filters) >= {"database", "document"}
    assert filters["document"].get("operator") == "match-path-pattern", (
        "the document filter is a path pattern"
    )


def test_functions_are_sized_on_purpose() -> None:
    for name, spec in function_specs().items():
        for knob in ("memory", "timeout_seconds", "concurrency", "max_instances"):
            assert knob in spec, f"function {name} does not set {knob}"
    service = first(first_function_body()["service_config"])
    for setting in (
        "available_memory",
        "timeout_seconds",
        "max_instance_request_concurrency",
        "max_instance_count",
    ):
        assert setting in service, f"service_config does not set {setting}"


def test_workers_can_absorb_their_queues_concurrency() -> None:
    specs = function_specs()
    for queue, worker in (("push", "push_worker"), ("pull", "pull_worker")):
        limits = first(resources("google_cloud_tasks_queue")[queue]["rate_limits"])
        capacity = specs[worker]["concurrency"] * specs[worker]["max_instances"]
        assert limits["max_concurrent_dispatches"] <= capacity, (
            f"queue {queue} may send {limits['max_concurrent_dispatches']} tasks at once but {worker} "
            f"serves only {capacity}: Cloud Run's 429s would use up the tasks' attempts"
        )


# --- queues, secrets, settings -----------------------------------------------------------------------
def test_queues_of_the_code_exist() -> None:
    names = {str(resolve(body["name"])) for body in resources("google_cloud_tasks_queue").values()}
    settings = config.Settings()
    for queue in (settings.push_queue, settings.pull_queue):
        assert queue in names, f"queue {queue!r} (shared/config.py default) has no google_cloud_tasks_queue"


def test_queues_retry_with_bounded_backoff_under_calendar_quota() -> None:
    total_rate = 0.0
    for name, body in resources("google_cloud_tasks_queue").items():
        retry = first(body["retry_config"])
        attempts = resolve(retry["max_attempts"])
        assert isinstance(attempts, int) and 1 < attempts <= 20, f"queue {name}: attempts must be bounded"
        assert "min_backoff" in retry and "max_backoff" in retry, f"queue {name}: set min and max backoff"
        rate = resolve(first(body["rate_limits"])["max_dispatches_per_second"])
        assert isinstance(rate, int | float), f"queue {name}: cannot read max_dispatches_per_second"
        total_rate += rate
    assert total_rate < CALENDAR_PROJECT_QUOTA_PER_SECOND, (
        f"queues dispatch {total_rate}/s together, above Calendar's {CALENDAR_PROJECT_QUOTA_PER_SECOND:.0f}/s"
    )


def test_secrets_of_the_code_exist() -> None:
    wanted = {
        value for name, value in vars(config).items() if name.startswith("SECRET_") and isinstance(value, str)
    }
    assert wanted, "shared/config.py names no SECRET_* constants"
    defined: set[str] = set()
    for body in resources("google_secret_manager_secret").values():
        keys = instances(body)
        defined |= set(keys) if body.get("secret_id") == "${each.key}" else {str(resolve(body["secret_id"]))}
    missing = wanted - defined
    assert not missing, f"secrets the code reads with no google_secret_manager_secret: {sorted(missing)}"


def test_functions_read_only_defined_secrets_and_enqueue_only_defined_queues() -> None:
    secrets = set(resolve("${local.secrets}"))
    queues = {str(resolve(body["name"])) for body in resources("google_cloud_tasks_queue").values()}
    for name, spec in function_specs().items():
        assert set(spec["secrets"]) <= secrets, (
            f"{name} is granted unknown secrets {set(spec['secrets']) - secrets}"
        )
        assert set(spec["enqueues"]) <= queues, (
            f"{name} enqueues to unknown queues {set(spec['enqueues']) - queues}"
        )


def test_every_environment_variable_the_code_reads_is_set() -> None:
    needed = {
        name: where
        for name, where in code_env_vars().items()
        if name not in LOCAL_ONLY_ENV | PLATFORM_ENV and not name.startswith(LOCAL_ONLY_ENV_PREFIXES)
    }
    assert "GOOGLE_CLOUD_PROJECT" in needed, "the scan of shared/ and functions/ found no env reads"
    assert {"BACKFILL_DAYS", "RETURN_URL_HOSTS"} <= set(needed), (
        "the Settings fields' variables were not found"
    )
    for function, body in function_resources().items():
        missing = {name: where for name, where in needed.items() if name not in environment_keys(body)}
        assert not missing, f"function {function} lacks environment variables the code reads: {missing}"


def test_cloud_settings_use_secret_manager_and_no_local_addresses() -> None:
    env = resolve("${local.runtime_env}")
    assert env["SECRETS_BACKEND"] == "secretmanager"
    local_only = set(env) & (LOCAL_ONLY_ENV - {"GCP_PROJECT"})
    assert not local_only, f"local-only variables set in the cloud: {sorted(local_only)}"
    assert env["TASKS_SERVICE_ACCOUNT"] == '${google_service_account.invoker["tasks"].email}'


# --- who may call what -------------------------------------------------------------------------------
def publicly_invokable() -> dict[str, str]:
    """Functions with an allUsers/allAuthenticatedUsers invoker binding, with the resource granting it."""
    specs = function_specs()
    public: dict[str, str] = {}
    for kind in INVOKER_RESOURCES:
        for resource_name, body in resources(kind).items():
            members = body.get("members", [body.get("member")])
            members = members if isinstance(members, list) else [members]
            if not PUBLIC_MEMBERS & {str(resolve(member)) for member in members}:
                continue
            for_each = str(body.get("for_each", ""))
            match = re.search(r"if \w+\.invoker == \"?(\w+)\"?", for_each)
            assert match and "local.functions" in for_each, (
                f"{kind}.{resource_name} grants public access but its for_each is not a filter of "
                f"local.functions by invoker, so the functions it covers cannot be checked: {for_each!r}"
            )
            for name, spec in specs.items():
                if spec["invoker"] == match.group(1):
                    public[name] = f"{kind}.{resource_name}"
    return public


def test_workers_are_not_publicly_invokable() -> None:
    exposed = {name: where for name, where in publicly_invokable().items() if name in WORKERS}
    assert not exposed, f"workers invokable by anyone: {exposed}"


def test_only_the_callback_and_the_webhook_are_public() -> None:
    assert set(publicly_invokable()) == PUBLIC


def test_private_callers_are_the_expected_identities() -> None:
    specs = function_specs()
    members = resolve("${local.invoker_members}")
    assert not PUBLIC_MEMBERS & set(members.values()), "a private invoker kind maps to a public member"
    for name in CLINIC_FACING:
        invoker = specs.get(name, {}).get("invoker")
        assert invoker == "clinic_app", f"{name} must be callable by the clinic app only, not {invoker!r}"
    assert "var.clinic_app_service_account" in members["clinic_app"]
    for name in WORKERS:
        invoker = specs.get(name, {}).get("invoker")
        assert invoker in {"tasks", "scheduler", "eventarc"}, f"{name} must be private, not {invoker!r}"
    assert members["tasks"] == '${google_service_account.invoker["tasks"].member}'
    assert members["scheduler"] == '${google_service_account.invoker["scheduler"].member}'
    private = resources("google_cloud_run_v2_service_iam_member")["invoker"]
    assert private["role"] == "roles/run.invoker"
    assert private["member"] == "${local.invoker_members[each.value.invoker]}"


def test_scheduled_functions_are_called_with_oidc() -> None:
    specs = function_specs()
    jobs = resources("google_cloud_scheduler_job")["job"]
    scheduled = instances(jobs)
    assert set(scheduled) == {"renew_channels", "reconcile_links", "drift_check"}
    for name in scheduled:
        assert specs[name]["invoker"] == "scheduler", (
            f"{name} is scheduled but not invokable by the scheduler"
        )
    oidc = first(first(jobs["http_target"])["oidc_token"])
    assert oidc["service_account_email"] == '${google_service_account.invoker["scheduler"].email}'


def test_tasks_and_scheduler_have_separate_identities_each_for_its_own_functions() -> None:
    project = "p"
    grants = tf.function_grants(project)
    tasks = tf.tasks_service_account(project)
    scheduler = tf.scheduler_service_account(project)
    eventarc = tf.eventarc_service_account(project)
    assert len({tasks, scheduler, eventarc}) == 3, "Tasks, Scheduler and Eventarc must be distinct accounts"
    callable_by = {
        account: {name for name, grant in grants.items() if account in grant.callers}
        for account in (tasks, scheduler, eventarc)
    }
    assert callable_by[tasks] == {"push_worker", "pull_worker"}
    assert (
        callable_by[scheduler]
        == set(tf.scheduled_functions())
        == {"renew_channels", "reconcile_links", "drift_check"}
    )
    assert callable_by[eventarc] == {"on_appointment_written"}
    # The queues' workers are exactly the functions the tasks' account may call.
    settings = config.Settings()
    workers = {settings.worker_url(q).rsplit("/", 1)[-1] for q in (settings.push_queue, settings.pull_queue)}
    assert workers == callable_by[tasks]
    # Only functions that enqueue may mint tokens of the tasks' account; nobody may act as the scheduler's.
    acts_as = resources("google_service_account_iam_member")
    targets = {str(body["service_account_id"]) for body in acts_as.values()}
    assert not any("scheduler" in target for target in targets), targets
    assert acts_as["enqueuer_acts_as_invoker"]["service_account_id"] == (
        '${google_service_account.invoker["tasks"].name}'
    )


def test_every_private_function_has_exactly_one_caller() -> None:
    for name, grant in tf.function_grants("p").items():
        if name in PUBLIC:
            assert grant.public and not grant.callers, name
        else:
            assert len(grant.callers) == 1, f"{name} is callable by {sorted(grant.callers)}"


# --- Firestore ---------------------------------------------------------------------------------------
def test_oauth_states_expire_by_ttl() -> None:
    ttl = {(spec["collection"], spec["field"]) for spec in resolve("${local.ttl_fields}").values()}
    assert ("oauthStates", "expiresAt") in ttl
    assert "ttl_config" in resources("google_firestore_field")["ttl"]


def test_appointments_of_a_professional_by_start_are_indexed() -> None:
    shapes = {
        (spec["collection"], spec["query_scope"], tuple(tuple(field) for field in spec["fields"]))
        for spec in resolve("${local.composite_indexes}").values()
    }
    assert ("appointments", "COLLECTION", (("professionalId", "ASCENDING"), ("start", "ASCENDING"))) in shapes
    assert any(scope == "COLLECTION_GROUP" and collection == "syncLinks" for collection, scope, _ in shapes)


# --- the shape of the configuration --------------------------------------------------------------------
def test_variables_are_typed_and_described() -> None:
    for name, body in variables().items():
        assert "type" in body, f"variable {name} has no type"
        assert str(body.get("description", "")).strip(), f"variable {name} has no description"


def test_outputs_are_described() -> None:
    outputs: dict[str, Any] = {}
    for entry in terraform().get("output", []):
        outputs.update(entry)
    assert outputs, "infra/ defines no outputs"
    for name, body in outputs.items():
        assert str(body.get("description", "")).strip(), f"output {name} has no description"


def test_google_providers_are_pinned_to_one_major_version() -> None:
    required = first(first(terraform()["terraform"])["required_providers"])
    google = {name: body for name, body in required.items() if name in ("google", "google-beta")}
    assert "google" in google
    majors = set()
    for name, body in google.items():
        # `~> N.0` allows every N.x and nothing of N+1: a new major is a deliberate edit.
        match = re.fullmatch(r"~>\s*(\d+)\.0", str(body["version"]).strip())
        assert match, f"{name} provider version {body['version']!r} is not `~> N.0`"
        majors.add(int(match[1]))
    assert len(majors) == 1, f"google and google-beta on different majors: {sorted(majors)}"
    assert majors.pop() >= 6


def test_tfvars_example_sets_every_required_variable_for_an_existing_database() -> None:
    options = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
    with (tf.INFRA / "terraform.tfvars.example").open() as handle:
        example = hcl2.load(handle, serialization_options=options)
    example = {name: value for name, value in example.items() if not name.startswith("__")}
    declared = variables()
    assert set(example) <= set(declared), f"undeclared: {sorted(set(example) - set(declared))}"
    required = {name for name, body in declared.items() if "default" not in body}
    assert required <= set(example), f"the example misses {sorted(required - set(example))}"
    # The usual case: the clinic app's database exists, and creating it again would fail.
    assert declared["create_firestore_database"]["default"] is True
    assert example["create_firestore_database"] is False
    for name, value in example.items():
        kind = str(declared[name]["type"]).strip("${}")
        expected = {"string": str, "bool": bool, "number": (int, float)}.get(kind)
        if expected:
            assert isinstance(value, expected), f"{name} = {value!r} is not a {kind}"
    # Values must pass the variables' own validations where those are a plain regex.
    for name, value in example.items():
        for validation in declared[name].get("validation", []):
            pattern = re.search(r'regex\("(.+)",\s*var\.' + name, str(validation["condition"]))
            if pattern:
                assert re.search(pattern[1].replace("\\\\", "\\"), value), (
                    f"{name} = {value!r} fails validation"
                )


# --- the source bundle ---------------------------------------------------------------------------------
def terraform_bundle() -> set[str]:
    """The files infra/source.tf packs, computed the way Terraform's fileset() and regex() would."""
    include = resolve("${local.bundle_include}")
    exclude = re.compile(resolve("${local.bundle_exclude}").replace("\\\\", "\\"))
    files: set[str] = set()
    for pattern in include:
        for match in glob.glob(pattern, root_dir=ROOT, recursive=True, include_hidden=True):
            if (ROOT / match).is_file():
                files.add(Path(match).as_posix())
    return {name for name in files if not exclude.search(name)}


def test_bundle_holds_only_what_runs() -> None:
    bundle = terraform_bundle()
    assert {"main.py", "requirements.txt"} <= bundle
    assert any(name.startswith("functions/") for name in bundle)
    assert any(name.startswith("shared/") for name in bundle)
    stray = {
        name for name in bundle if not re.match(r"(main\.py|requirements\.txt|functions/|shared/)", name)
    }
    assert not stray, f"files outside the runtime code in the bundle: {sorted(stray)}"
    assert not {name for name in bundle if "__pycache__" in name or name.endswith(".pyc")}


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud is not installed")
def test_gcloudignore_and_terraform_bundle_agree() -> None:
    listed = subprocess.run(
        ["gcloud", "meta", "list-files-for-upload", str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    uploaded = {line.strip() for line in listed.splitlines() if line.strip()}
    bundle = terraform_bundle()
    assert uploaded == bundle, (
        f"only uploaded by gcloud (.gcloudignore): {sorted(uploaded - bundle)}; "
        f"only packed by Terraform (infra/source.tf): {sorted(bundle - uploaded)}"
    )


def test_the_security_rules_the_emulator_enforces_are_deployed() -> None:
    ruleset = resources("google_firebaserules_ruleset")["firestore"]
    files = first(first(ruleset["source"])["files"])
    assert files["content"] == '${file("${path.module}/../firestore.rules")}'
    assert (ROOT / "firestore.rules").is_file()
    release = resources("google_firebaserules_release")["firestore"]
    assert release["name"] == "cloud.firestore", "the (default) database reads its rules from cloud.firestore"
    assert "google_firebaserules_ruleset.firestore[0].name" in release["ruleset_name"]
    assert "firebaserules.googleapis.com" in resolve("${local.services}")
