"""Token refresh refusals, told apart by Google's OAuth error, as the typed errors `judge` reads."""

from __future__ import annotations

import pytest
from google.auth.exceptions import RefreshError

from shared.adapters.google_calendar import translate
from shared.ports import AdminBlocked, AuthRevoked, ClientDeleted, GoogleError, Transient


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("invalid_grant", AuthRevoked),
        ("admin_policy_enforced", AdminBlocked),
        ("org_internal", AdminBlocked),
        ("deleted_client", ClientDeleted),
        ("unauthorized_client", ClientDeleted),
        ("temporarily_unavailable", Transient),
    ],
)
def test_a_refused_refresh_is_typed_by_its_oauth_error(error: str, kind: type[GoogleError]) -> None:
    # google-auth raises the token endpoint's answer as the second argument, its error named first.
    refused = RefreshError(f"{error}: something", {"error": error, "error_description": "something"})
    translated = translate(refused)
    assert type(translated) is kind
    assert translated.reason == (error if kind is not Transient else "refresh")
    # Without the answer (another path of google-auth), the message still tells it.
    assert type(translate(RefreshError(f"{error}: something"))) is kind
