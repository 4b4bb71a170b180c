"""The Firestore contract's JSON Schemas (docs/schemas), and documents turned into the JSON they describe."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "schemas"

# Only the format the schemas use, checked for real (jsonschema's own date-time check needs an extra
# package, and silently passes without it).
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("a timestamp without its offset")
    return True


@cache
def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return loaded


def names() -> list[str]:
    return sorted(path.name.removesuffix(".schema.json") for path in SCHEMAS.glob("*.schema.json"))


def as_json(value: Any) -> Any:
    """A Firestore document's data as JSON: timestamps as RFC 3339 strings."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): as_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(item) for item in value]
    return value


def errors(name: str, document: Mapping[str, Any]) -> list[str]:
    """Why `document` does not fit the schema `name` (empty when it does)."""
    validator = Draft202012Validator(schema(name), format_checker=FORMATS)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(document)'}: {error.message}"
        for error in validator.iter_errors(as_json(document))
    ]


def properties(name: str) -> set[str]:
    return set(schema(name)["properties"])
