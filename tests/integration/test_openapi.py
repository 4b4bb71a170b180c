"""openapi/openapi.yaml: a valid OpenAPI document that matches the functions, checked against them.

(a) The document is valid, names exactly the HTTP entry points, and its request and link schemas have
the fields the functions' models have. (b) schemathesis generates requests from it (valid and invalid,
a bounded number per operation, deterministically) and sends them to every function as deployed: no
answer may be a 5xx, and every answer must be documented (status, content type, body schema).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from pydantic import BaseModel
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import main
from functions.linking import (
    CallbackQuery,
    CompleteRequest,
    DecisionRequest,
    DisableRequest,
    ListQuery,
    StartRequest,
)
from functions.sync import PullTask, PushTask
from functions.views import link_view
from infra.local.functions_server import REPO_ROOT
from infra.local.terraform_grants import function_grants
from shared.domain.link import LinkStatus, SyncLink
from tests.integration.functions_app import HTTP_FUNCTIONS, Deployed

OPENAPI = REPO_ROOT / "openapi" / "openapi.yaml"
DOCUMENT: dict[str, Any] = yaml.safe_load(Path(OPENAPI).read_text())
GET_FUNCTIONS = {"oauth_callback", "list_links"}
INTERNAL = {"push_worker", "pull_worker", "renew_channels", "reconcile_links", "drift_check"}

# The request models behind each documented request body or query.
BODIES: dict[str, type[BaseModel]] = {
    "oauth_start": StartRequest,
    "complete_link": CompleteRequest,
    "approve_link": DecisionRequest,
    "disable_link": DisableRequest,
    "push_worker": PushTask,
    "pull_worker": PullTask,
}
QUERIES: dict[str, type[BaseModel]] = {"oauth_callback": CallbackQuery, "list_links": ListQuery}


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` of the document."""
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = DOCUMENT["components"][kind][name]
    return node


def operation(function: str) -> dict[str, Any]:
    (method, op), *rest = DOCUMENT["paths"][f"/{function}"].items()
    assert rest == [], f"/{function} documents more than one method"
    expected = "get" if function in GET_FUNCTIONS else "post"
    assert method == expected, (function, method)
    return dict(op)


# --- (a) the document ----------------------------------------------------------------------------------
def test_the_document_is_valid_openapi() -> None:
    validate(DOCUMENT)


def test_it_documents_exactly_the_http_entry_points() -> None:
    http = {name for name, kind in main.ENTRY_POINTS.items() if kind == "http"}
    assert set(HTTP_FUNCTIONS) == http
    assert set(DOCUMENT["paths"]) == {f"/{name}" for name in http}
    for name in http:
        op = operation(name)
        assert op["operationId"] == name
        assert ("internal" in op["tags"]) == (name in INTERNAL), name


def test_every_refusal_is_documented_with_the_error_body() -> None:
    error = {"$ref": "#/components/schemas/Error"}
    for name in HTTP_FUNCTIONS:
        for status, response in operation(name)["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            content = resolve(response)["content"]
            if name == "oauth_callback":  # a browser lands there: its refusals are pages for a person
                assert set(content) == {"text/html"}, (name, status)
            else:
                assert content["application/json"]["schema"] == error, (name, status)


@pytest.mark.parametrize("function", sorted(BODIES))
def test_request_bodies_have_the_models_fields(function: str) -> None:
    body = operation(function)["requestBody"]["content"]["application/json"]["schema"]
    schema = resolve(body)
    model = BODIES[function]
    assert set(schema["properties"]) == set(model.model_fields)
    assert set(schema["required"]) == {
        name for name, field in model.model_fields.items() if field.is_required()
    }
    assert schema["additionalProperties"] is False  # the models refuse unknown fields


@pytest.mark.parametrize("function", sorted(QUERIES))
def test_query_parameters_are_the_models_fields(function: str) -> None:
    parameters = [resolve(p) for p in operation(function)["parameters"]]
    model = QUERIES[function]
    assert {p["name"] for p in parameters if p["in"] == "query"} == set(model.model_fields)
    assert {p["name"] for p in parameters if p.get("required")} == {
        name for name, field in model.model_fields.items() if field.is_required()
    }


def test_the_link_schema_is_what_the_functions_answer() -> None:
    link = SyncLink(
        id="l1",
        clinic_id="demo",
        center_id="centro-b",
        user_id="pautrave",
        professional_id="marina",
        bidirectional=True,
        status=LinkStatus.ACTIVE,
        created_at=datetime.now(UTC),
    )
    schema = resolve(DOCUMENT["components"]["schemas"]["Link"])
    assert set(schema["properties"]) == set(link_view(link))
    assert set(schema["properties"]["status"]["enum"]) == {status.value for status in LinkStatus}


# --- (b) schemathesis against the deployed functions ---------------------------------------------------
schema = schemathesis.openapi.from_dict(DOCUMENT)
# The functions are called here as Google's front end hands them a request it let in: the caller's
# identity (`security`) is checked before a function runs, by Cloud Run in the cloud and by the local
# front door (tests/e2e/test_local_stack.py), so no Authorization header is generated or left out.
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=25,
    deterministic=True,
    with_security_parameters=False,
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_functions_keep_to_the_document(case: schemathesis.Case, functions: Deployed) -> None:
    case.call_and_validate(app=functions.wsgi, checks=CHECKS)


def test_each_operation_declares_the_identity_terraform_requires() -> None:
    schemes = {"clinic_app": "clinicBackend", "tasks": "cloudTasks", "scheduler": "cloudScheduler"}
    declared = DOCUMENT["components"]["securitySchemes"]
    for name, grant in function_grants("p").items():
        if main.ENTRY_POINTS[name] != "http":
            continue
        security = operation(name)["security"]
        if grant.public:
            assert security == [], name
        else:
            assert security == [{schemes[grant.invoker]: []}], name
            assert declared[schemes[grant.invoker]]["scheme"] == "bearer"
