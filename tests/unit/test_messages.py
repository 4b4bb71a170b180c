"""The catalogue of what people read: every code the code can answer has its Spanish and English text, and
the notifications and e-mails speak Spanish."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from functions import messages
from functions.messages import ERRORS, PAGES, REASONS, choose_language, error_message, reason_text
from shared.adapters.firestore import sealed_grants
from shared.domain import errors as domain_errors
from tests.examples import every_notice

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.glob("shared/**/*.py"), *ROOT.glob("functions/*.py")])
# Words that give English away in a text meant to be Spanish.
ENGLISH = re.compile(r"\b(the|is|was|not|your|please|link|linked|account|approve|calendar|failed)\b", re.I)


def codes_in_code() -> set[str]:
    """Every error code the services, adapters and entry points can answer with."""
    found: set[str] = set()
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.keyword)
                and node.arg == "code"
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                found.add(str(node.value.value))
            # error("code", status) in functions/
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "error"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(str(node.args[0].value))
    # The defaults of the error classes, and the uniqueness keys a claim is refused with.
    for value in vars(domain_errors).values():
        if isinstance(value, type) and issubclass(value, domain_errors.DomainError):
            found.add(value.code)
    found |= set(sealed_grants._CONFLICT_MESSAGES)
    return found


def reasons_in_code() -> set[str]:
    """Every `reason` a link can be left with."""
    linking = (ROOT / "shared/services/linking.py").read_text()
    found = set(re.findall(r'reason="(\w+)"', linking))
    found |= set(re.findall(r'_fail\(\s*\w+,\s*"(\w+)"', linking))
    found |= set(re.findall(r'"(\w+)" if error in', linking)) | set(re.findall(r'else "(\w+)"\)', linking))
    return found | {"email_already_linked", "user_already_linked"}  # from the uniqueness keys


def test_every_code_the_code_answers_has_both_texts() -> None:
    codes = codes_in_code()
    assert {"link_not_found", "invalid_state", "wrong_center", "retry_later", "internal"} <= codes
    missing = codes - set(ERRORS)
    assert not missing, f"no message for {sorted(missing)}"


def test_every_reason_a_link_fails_with_is_explained() -> None:
    reasons = reasons_in_code()
    assert {"access_denied", "missing_scope", "superseded", "rejected", "activation_failed"} <= reasons
    assert not reasons - set(REASONS), f"no text for {sorted(reasons - set(REASONS))}"


@pytest.mark.parametrize("table", [ERRORS, REASONS, PAGES], ids=["errors", "reasons", "pages"])
def test_spanish_comes_first_and_differs_from_english(table: dict[str, tuple[str, str]]) -> None:
    for key, (spanish, english) in table.items():
        assert spanish.strip() and english.strip(), key
        if key != "title":
            assert spanish != english, f"{key}: the same text in both languages"
            assert not ENGLISH.search(spanish.replace("Google Calendar", "")), f"{key}: {spanish!r}"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "es"),
        ("", "es"),
        ("en", "en"),
        ("en-US", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("es", "es"),
        ("es-ES,en;q=0.5", "es"),
        ("en;q=0.4,es;q=0.8", "es"),
        ("fr", "es"),
        ("de,en;q=0.7", "en"),
        ("*", "es"),
        ("en;q=0", "es"),
        ("not a header;;q=x", "es"),
    ],
)
def test_english_only_when_preferred(header: str | None, language: str) -> None:
    assert choose_language(header) == language


def test_messages_by_code_field_and_language() -> None:
    assert error_message("link_not_found") == "La vinculación no existe."
    assert error_message("link_not_found", "en") == "The link does not exist."
    assert error_message("invalid_request", "es", field="clinicId") == (
        "La petición no es válida: revise el campo «clinicId»."
    )
    assert error_message("never_heard_of") == ERRORS["bad_request"][0]
    assert reason_text("access_denied") == REASONS["access_denied"][0]
    assert reason_text("something_new") == "something_new"
    assert messages.page_text("needs_reconnect", "en") == PAGES["needs_reconnect"][1]


# --- notifications and e-mails ---------------------------------------------------------------------------
def test_notices_are_in_spanish() -> None:
    for notice in every_notice():
        for text in (notice.subject, notice.text):
            assert not ENGLISH.search(text.replace("Google Calendar", "")), text
    request = every_notice()[0]
    assert "Pau Trave" in request.text and "Marina Puig" in request.text and "Centro B" in request.text
    assert "pau@gmail.com" in request.text and "«Autorizar»" in request.text
    assert request.subject.startswith("Autorización pendiente")
    assert "rechazado" in every_notice()[1].text
    assert "vuelva a vincularla" in every_notice()[2].text
