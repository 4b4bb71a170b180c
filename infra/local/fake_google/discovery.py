"""The Calendar v3 discovery document bundled with google-api-python-client.

The fake takes each method's path, HTTP verb and OAuth scopes from it, so that what the fake enforces is
what the client library (and Google) declares, and the contract tests check response bodies against its
schemas.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import googleapiclient


@dataclass(frozen=True)
class Method:
    """One API method as the discovery document describes it."""

    id: str
    http_method: str
    path: str
    scopes: frozenset[str]
    response_ref: str | None

    @property
    def flask_rule(self) -> str:
        """The method's URL rule below the service root, in Flask syntax (`{calendarId}` -> `<calendar_id>`)."""
        return "/" + re.sub(r"\{(\w+)\}", lambda m: f"<{_snake(m.group(1))}>", self.path)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def document_path() -> Path:
    """Where google-api-python-client keeps its static copy of the Calendar v3 discovery document."""
    return Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "calendar.v3.json"


@functools.cache
def document() -> dict[str, Any]:
    """The parsed discovery document (loaded once)."""
    with document_path().open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


@functools.cache
def methods() -> dict[str, Method]:
    """Every method of the document by id, e.g. `calendar.events.insert`."""
    found: dict[str, Method] = {}

    def walk(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                found[method["id"]] = Method(
                    id=method["id"],
                    http_method=method["httpMethod"],
                    path=method["path"],
                    scopes=frozenset(method.get("scopes", [])),
                    response_ref=method.get("response", {}).get("$ref"),
                )
            walk(resource.get("resources", {}))

    walk(document()["resources"])
    return found


def method(method_id: str) -> Method:
    """One method by id; KeyError when the document has no such method."""
    return methods()[method_id]


def schemas() -> dict[str, Any]:
    """The document's schemas by name (Event, Events, Calendar, Channel, ...)."""
    result: dict[str, Any] = document()["schemas"]
    return result


@functools.cache
def known_scopes() -> frozenset[str]:
    """Every OAuth scope the document mentions."""
    return frozenset(document()["auth"]["oauth2"]["scopes"])
