"""What Terraform grants each function, read from infra/*.tf, so that the local stack enforces the same.

The .tf files are parsed with python-hcl2 (no provider, no network). Values that are plain literals or
`local.X` / `var.X` references are resolved; anything else stays opaque text. The Terraform tests
(tests/unit/test_terraform.py) read the configuration through the same functions.

From `local.functions` (infra/functions.tf) and the resources it feeds:
- `secrets`: the Secret Manager secrets a function's service account may read (infra/secrets.tf); locally
  the function's process gets only those secrets in its environment;
- `invoker`: who may call it (`public`, or one identity: the clinic backend's, the Cloud Tasks, Cloud
  Scheduler or Eventarc account); locally the functions' front door checks the caller's token against it;
- `concurrency`: requests one instance serves at once (THREADS in the cloud and here);
- `local.runtime_env`: the environment variables every function is given;
- `local.queue_max_attempts` (infra/tasks.tf): each queue's attempts, which the workers are told too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

INFRA = Path(__file__).resolve().parents[1]

# var.clinic_app_service_account has no default: the clinic backend's account in the local stack.
LOCAL_CLINIC_APP_ACCOUNT = "clinic-app@{project}.iam.gserviceaccount.com"
PUBLIC = "public"


class TerraformError(ValueError):
    """The configuration does not have the shape the local stack and the tests read."""


# --- reading the Terraform ------------------------------------------------------------------------------
@cache
def terraform(infra: Path = INFRA) -> dict[str, list[dict[str, Any]]]:
    """Every top-level block of every infra/*.tf, by block type (resource, locals, variable, ...)."""
    options = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
    blocks: dict[str, list[dict[str, Any]]] = {}
    files = sorted(infra.glob("*.tf"))
    if not files:
        raise TerraformError(f"no Terraform files in {infra}")
    for path in files:
        with path.open() as handle:
            for kind, entries in hcl2.load(handle, serialization_options=options).items():
                blocks.setdefault(kind, []).extend(entries)
    return blocks


def resources(kind: str) -> dict[str, dict[str, Any]]:
    """The resources of one type, by their Terraform name."""
    found: dict[str, dict[str, Any]] = {}
    for entry in terraform().get("resource", []):
        found.update(entry.get(kind, {}))
    return found


@cache
def locals_() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in terraform().get("locals", []):
        merged.update(entry)
    return merged


def variables() -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for entry in terraform().get("variable", []):
        merged.update(entry)
    return merged


def reference(value: Any, prefix: str) -> str | None:
    """`X` when `value` is exactly the expression `${prefix.X}`."""
    match = re.fullmatch(r"\$\{" + re.escape(prefix) + r"\.(\w+)\}", str(value))
    return match.group(1) if match else None


def resolve(value: Any) -> Any:
    """A literal as it is; `${local.X}`, `${local.X.KEY}` (a key of a map local) and `${var.X}` (its default)
    resolved; anything else unchanged."""
    keyed = re.fullmatch(r"\$\{local\.(\w+)\.(\w+)\}", str(value))
    if keyed is not None:
        mapping = resolve("${local." + keyed.group(1) + "}")
        if not isinstance(mapping, dict) or keyed.group(2) not in mapping:
            raise TerraformError(f"{value} names no key of a map local")
        return resolve(mapping[keyed.group(2)])
    if (name := reference(value, "local")) is not None:
        if name not in locals_():
            raise TerraformError(f"local.{name} is used but never defined")
        return resolve(locals_()[name])
    if (name := reference(value, "var")) is not None:
        if name not in variables():
            raise TerraformError(f"var.{name} is used but never declared")
        return resolve(variables()[name].get("default"))
    return value


def first(blocks: Any) -> dict[str, Any]:
    """The single nested block that hcl2 gives as a one-element list."""
    if not (isinstance(blocks, list) and len(blocks) == 1):
        raise TerraformError(f"expected exactly one block, got {blocks!r}")
    block: dict[str, Any] = blocks[0]
    return block


def instances(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The instances a resource block makes: its for_each keys (a literal map or a local), else its name."""
    if "for_each" not in body:
        return {str(body.get("name")): {}}
    each = resolve(body["for_each"])
    if not isinstance(each, dict):
        raise TerraformError(f"cannot tell the instances of for_each = {body['for_each']!r}")
    return each


def function_specs() -> dict[str, dict[str, Any]]:
    """The per-function settings map (local.functions) the functions resource iterates over."""
    specs = resolve("${local.functions}")
    if not isinstance(specs, dict):
        raise TerraformError("local.functions is not a map of function settings")
    return specs


# --- identities -----------------------------------------------------------------------------------------
def service_account_email(expression: Any, project: str) -> str:
    """The e-mail a Terraform expression names, as the local stack spells it.

    `${google_service_account.X.email}`, `.member`, or `X["key"]` of a for_each over a map of settings
    -> `{account_id}@{project}.iam.gserviceaccount.com`;
    `serviceAccount:${var.clinic_app_service_account}` -> the local clinic backend's account.
    """
    text = str(expression)
    match = re.fullmatch(r'\$\{google_service_account\.(\w+)(?:\["(\w+)"\])?\.(email|member)\}', text)
    if match:
        resource, key = match.group(1), match.group(2)
        body = resources("google_service_account").get(resource)
        if body is None:
            raise TerraformError(f"{text} names no google_service_account")
        account_id = body["account_id"]
        if key is not None:
            each = instances(body)
            if key not in each or account_id != "${each.value.account_id}":
                raise TerraformError(f"cannot read the account_id of {text}")
            account_id = each[key]["account_id"]
        if "$" in str(account_id):
            raise TerraformError(f"cannot read the account_id of {text}")
        return f"{account_id}@{project}.iam.gserviceaccount.com"
    if re.fullmatch(r"(serviceAccount:)?\$\{var\.clinic_app_service_account\}", text):
        return LOCAL_CLINIC_APP_ACCOUNT.format(project=project)
    raise TerraformError(f"cannot tell which service account {text!r} is")


@dataclass(frozen=True)
class FunctionGrant:
    """What one function is given and who may call it."""

    name: str
    invoker: str  # "public" or a key of local.invoker_members
    callers: frozenset[str]  # the service accounts allowed to invoke it; empty when public
    secrets: tuple[str, ...]
    concurrency: int

    @property
    def public(self) -> bool:
        return self.invoker == PUBLIC


@cache
def function_grants(project: str) -> dict[str, FunctionGrant]:
    """Each function's grants, with the identities named as in `project`."""
    members = resolve("${local.invoker_members}")
    if not isinstance(members, dict):
        raise TerraformError("local.invoker_members is not a map")
    found: dict[str, FunctionGrant] = {}
    for name, spec in function_specs().items():
        invoker = str(spec["invoker"])
        if invoker == PUBLIC:
            callers: frozenset[str] = frozenset()
        elif invoker in members:
            callers = frozenset({service_account_email(members[invoker], project)})
        else:
            raise TerraformError(f"function {name}: invoker {invoker!r} is not in local.invoker_members")
        found[name] = FunctionGrant(
            name=name,
            invoker=invoker,
            callers=callers,
            secrets=tuple(spec.get("secrets", [])),
            concurrency=int(spec["concurrency"]),
        )
    return found


def runtime_environment_names() -> frozenset[str]:
    """The environment variables Terraform sets on every function (local.runtime_env, and THREADS)."""
    env = resolve("${local.runtime_env}")
    if not isinstance(env, dict):
        raise TerraformError("local.runtime_env is not a map")
    return frozenset(env) | {"THREADS"}


def queue_max_attempts() -> dict[str, int]:
    """Each queue's max_attempts (local.queue_max_attempts, infra/tasks.tf), by queue name."""
    attempts = resolve("${local.queue_max_attempts}")
    if not isinstance(attempts, dict):
        raise TerraformError("local.queue_max_attempts is not a map")
    return {str(queue): int(value) for queue, value in attempts.items()}


def max_attempts_environment() -> dict[str, str]:
    """PUSH_MAX_ATTEMPTS and PULL_MAX_ATTEMPTS as Terraform sets them (local.runtime_env, from the same local)."""
    attempts = queue_max_attempts()
    env = resolve("${local.runtime_env}")
    found: dict[str, str] = {}
    for name in ("PUSH_MAX_ATTEMPTS", "PULL_MAX_ATTEMPTS"):
        match = re.fullmatch(r"\$\{tostring\(local\.queue_max_attempts\.(\w+)\)\}", str(env.get(name)))
        if match is None or match.group(1) not in attempts:
            raise TerraformError(f"{name} is not set from local.queue_max_attempts")
        found[name] = str(attempts[match.group(1)])
    return found


def tasks_service_account(project: str) -> str:
    """The identity the functions name in their tasks' OIDC token (TASKS_SERVICE_ACCOUNT)."""
    return service_account_email(resolve("${local.runtime_env}")["TASKS_SERVICE_ACCOUNT"], project)


def scheduler_service_account(project: str) -> str:
    """The identity in the OIDC token of every Cloud Scheduler job."""
    jobs = resources("google_cloud_scheduler_job")
    emails = {
        service_account_email(
            first(first(body["http_target"])["oidc_token"])["service_account_email"], project
        )
        for body in jobs.values()
    }
    if len(emails) != 1:
        raise TerraformError(f"expected the scheduler jobs to share one identity, got {sorted(emails)}")
    return emails.pop()


def eventarc_service_account(project: str) -> str:
    """The identity of the Firestore trigger's deliveries (the function's event_trigger)."""
    for body in resources("google_cloudfunctions2_function").values():
        for block in body.get("dynamic", []):
            if "event_trigger" in block:
                content = first(block["event_trigger"]["content"])
                return service_account_email(content["service_account_email"], project)
    raise TerraformError("no function has an event_trigger")


def scheduled_functions() -> frozenset[str]:
    """The functions Cloud Scheduler calls."""
    names: set[str] = set()
    for body in resources("google_cloud_scheduler_job").values():
        names |= set(instances(body))
    return frozenset(names)
