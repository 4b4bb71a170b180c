"""Settings: read from the environment with pydantic-settings, so a bad variable is named, not guessed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.config import Settings


def test_a_variable_that_does_not_parse_names_itself_in_the_error() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings.from_env({"BACKFILL_DAYS": "a year", "SECRETS_BACKEND": "vault"})
    named = {str(error["loc"][0]) for error in raised.value.errors()}
    assert named == {"BACKFILL_DAYS", "SECRETS_BACKEND"}


def test_defaults_follow_the_project_and_region_and_empty_variables_count_as_unset() -> None:
    settings = Settings.from_env(
        {
            "GCP_PROJECT": "clinics-prod",
            "FUNCTION_REGION": "europe-southwest1",
            "CLOUD_TASKS_EMULATOR_HOST": "",
        }
    )
    assert settings.functions_base_url == "https://europe-southwest1-clinics-prod.cloudfunctions.net"
    assert settings.tasks_location == "europe-southwest1"
    assert settings.tasks_emulator_host is None
    assert settings.google.api_base == "https://www.googleapis.com"


def test_built_directly_only_the_given_values_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-the-environment")
    monkeypatch.setenv("BACKFILL_DAYS", "7")
    settings = Settings(backfill_days=30)
    assert (settings.project_id, settings.backfill_days) == ("demo-clinic", 30)
    assert Settings.from_env().project_id == "from-the-environment"


def test_the_redirect_may_live_on_a_domain_of_its_own_while_tasks_keep_the_functions_address() -> None:
    own = Settings.from_env({"GOOGLE_CLOUD_PROJECT": "clinics-prod"})
    assert own.oauth_redirect_uri == "https://europe-west1-clinics-prod.cloudfunctions.net/oauth_callback"
    moved = Settings.from_env(
        {"GOOGLE_CLOUD_PROJECT": "clinics-prod", "OAUTH_REDIRECT_BASE_URL": "https://sync.clinic.example/"}
    )
    assert moved.oauth_redirect_uri == "https://sync.clinic.example/oauth_callback"
    assert moved.worker_url(moved.push_queue) == own.worker_url(own.push_queue)
    assert moved.webhook_url == own.webhook_url
