"""The fake Google's OAuth 2.0 endpoints behave as Google's: PKCE, single-use codes, redirect checks,
offline access, denial, granular consent, and a consent page that a browser (here: requests) can drive.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from infra.local.fake_google import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, RunningServer

REDIRECT_URI = "http://127.0.0.1:8080/oauth_callback"
APP_CREATED = "https://www.googleapis.com/auth/calendar.app.created"
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
EMAIL = "master@clinic.test"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def auth_params(**overrides: str) -> dict[str, str]:
    params = {
        "client_id": LOCAL_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": f"openid email {APP_CREATED}",
        "state": "st-123",
        "access_type": "offline",
        "prompt": "consent",
        "login_hint": EMAIL,
        "fake_decision": "allow",
    }
    params.update(overrides)
    return params


def authorize(fake: RunningServer, **overrides: str) -> dict[str, str]:
    """Run the scripted authorization and return the query of the redirect back to the client."""
    answer = requests.get(
        f"{fake.url}/o/oauth2/v2/auth", params=auth_params(**overrides), allow_redirects=False, timeout=5
    )
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(fake: RunningServer, code: str, **extra: str) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": LOCAL_CLIENT_ID,
        "client_secret": LOCAL_CLIENT_SECRET,
    }
    form.update(extra)
    return requests.post(f"{fake.url}/token", data=form, timeout=5)


def api_status(fake: RunningServer, token: str) -> int:
    return requests.post(
        f"{fake.url}/calendar/v3/calendars",
        json={"summary": "probe"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).status_code


def test_pkce_code_exchange_gives_tokens_and_userinfo(fake_google: RunningServer) -> None:
    verifier, challenge = pkce_pair()
    query = authorize(fake_google, code_challenge=challenge, code_challenge_method="S256")
    assert query["state"] == "st-123"
    answer = exchange(fake_google, query["code"], code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert tokens["refresh_token"]
    assert set(tokens["scope"].split()) == {"openid", USERINFO_EMAIL, APP_CREATED}

    info = requests.get(
        f"{fake_google.url}/oauth2/v3/userinfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    )
    assert info.json()["email"] == EMAIL and info.json()["email_verified"] is True
    assert api_status(fake_google, tokens["access_token"]) == 200


def test_pkce_mismatch_or_missing_verifier_is_invalid_grant(fake_google: RunningServer) -> None:
    _, challenge = pkce_pair()
    query = authorize(fake_google, code_challenge=challenge, code_challenge_method="S256")
    wrong = exchange(fake_google, query["code"], code_verifier=secrets.token_urlsafe(48))
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"

    query = authorize(fake_google, code_challenge=challenge, code_challenge_method="S256")
    missing = exchange(fake_google, query["code"])
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"


def test_reusing_a_code_is_invalid_grant_and_revokes_what_it_issued(fake_google: RunningServer) -> None:
    query = authorize(fake_google)
    first = exchange(fake_google, query["code"]).json()
    assert api_status(fake_google, first["access_token"]) == 200

    again = exchange(fake_google, query["code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert api_status(fake_google, first["access_token"]) == 401
    refresh = requests.post(
        f"{fake_google.url}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": LOCAL_CLIENT_ID,
            "client_secret": LOCAL_CLIENT_SECRET,
        },
        timeout=5,
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


def test_redirect_uri_must_match_at_auth_and_at_token(fake_google: RunningServer) -> None:
    page = requests.get(
        f"{fake_google.url}/o/oauth2/v2/auth",
        params=auth_params(redirect_uri="https://evil.example/cb"),
        allow_redirects=False,
        timeout=5,
    )
    assert page.status_code == 400 and "Error 400: redirect_uri_mismatch" in page.text

    query = authorize(fake_google)
    mismatch = exchange(fake_google, query["code"], redirect_uri="http://127.0.0.1:8080/other")
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_grant"


def test_unknown_clients_are_refused(fake_google: RunningServer) -> None:
    page = requests.get(
        f"{fake_google.url}/o/oauth2/v2/auth", params=auth_params(client_id="nobody"), timeout=5
    )
    assert page.status_code == 401 and "Error 401: invalid_client" in page.text

    query = authorize(fake_google)
    bad_secret = exchange(fake_google, query["code"], client_secret="guess")
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    basic = requests.post(
        f"{fake_google.url}/token",
        data={"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT_URI},
        auth=(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET),
        timeout=5,
    )
    assert basic.status_code == 200, basic.text


def test_online_access_gives_no_refresh_token(fake_google: RunningServer) -> None:
    query = authorize(fake_google, access_type="online")
    tokens = exchange(fake_google, query["code"]).json()
    assert "access_token" in tokens and "refresh_token" not in tokens


def test_deny_redirects_with_access_denied(fake_google: RunningServer) -> None:
    query = authorize(fake_google, fake_decision="deny")
    assert query == {"error": "access_denied", "state": "st-123"}


def test_granular_consent_grants_only_the_ticked_scopes(fake_google: RunningServer) -> None:
    query = authorize(fake_google, fake_scopes="openid email")
    tokens = exchange(fake_google, query["code"]).json()
    assert set(tokens["scope"].split()) == {"openid", USERINFO_EMAIL}
    answer = requests.post(
        f"{fake_google.url}/calendar/v3/calendars",
        json={"summary": "x"},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({}, 400, "invalid_request"),
        ({"grant_type": "authorization_code"}, 400, "invalid_request"),
        (
            {"grant_type": "authorization_code", "code": "4/forged", "redirect_uri": REDIRECT_URI},
            400,
            "invalid_grant",
        ),
        ({"grant_type": "refresh_token", "refresh_token": "1//forged"}, 400, "invalid_grant"),
    ],
)
def test_token_endpoint_errors(
    fake_google: RunningServer, form: dict[str, str], status: int, error: str
) -> None:
    answer = requests.post(
        f"{fake_google.url}/token",
        data={"client_id": LOCAL_CLIENT_ID, "client_secret": LOCAL_CLIENT_SECRET, **form},
        timeout=5,
    )
    assert answer.status_code == status
    assert answer.json()["error"] == error


def test_revoke_kills_refresh_and_access_tokens(fake_google: RunningServer) -> None:
    tokens = exchange(fake_google, authorize(fake_google)["code"]).json()
    assert requests.post(f"{fake_google.url}/revoke", data={"token": tokens["refresh_token"]}, timeout=5).ok
    assert api_status(fake_google, tokens["access_token"]) == 401
    again = requests.post(f"{fake_google.url}/revoke", data={"token": tokens["refresh_token"]}, timeout=5)
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"


def test_expired_codes_are_invalid_grant(fake_google: RunningServer) -> None:
    query = authorize(fake_google)
    with fake_google.store.lock:
        fake_google.store.codes[query["code"]].expires_at = 0
    assert exchange(fake_google, query["code"]).json()["error"] == "invalid_grant"


def _form_fields(html: str, form_id: str) -> tuple[str, dict[str, Any]]:
    form = re.search(rf'<form id="{form_id}" method="post" action="([^"]+)">(.*?)</form>', html, re.S)
    assert form is not None, html
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form.group(2)))
    return form.group(1), hidden


def test_the_html_chooser_and_consent_forms_work(fake_google: RunningServer) -> None:
    requests.post(f"{fake_google.url}/_fake/accounts", json={"email": "known@clinic.test"}, timeout=5)
    params = {k: v for k, v in auth_params().items() if k not in ("login_hint", "fake_decision")}
    session = requests.Session()
    chooser = session.get(f"{fake_google.url}/o/oauth2/v2/auth?{urlencode(params)}", timeout=5)
    assert chooser.status_code == 200
    assert 'value="known@clinic.test"' in chooser.text and 'name="email"' in chooser.text

    action, hidden = _form_fields(chooser.text, "new-account")
    consent = session.post(
        f"{fake_google.url}{action}", data={**hidden, "email": "new@clinic.test"}, timeout=5
    )
    assert consent.status_code == 200 and "new@clinic.test" in consent.text
    assert f'name="scope" value="{APP_CREATED}" checked' in consent.text

    action, hidden = _form_fields(consent.text, "consent")
    # The user unticks the calendar scope: only openid/email remain granted.
    decided = session.post(
        f"{fake_google.url}{action}", data={**hidden, "decision": "allow"}, allow_redirects=False, timeout=5
    )
    assert decided.status_code == 302
    query = parse_qs(urlsplit(decided.headers["Location"]).query)
    tokens = exchange(fake_google, query["code"][0]).json()
    assert APP_CREATED not in tokens["scope"].split()
    state = requests.get(f"{fake_google.url}/_fake/state", timeout=5).json()
    assert "new@clinic.test" in {account["email"] for account in state["accounts"]}


def test_the_consent_form_allows_with_every_ticked_scope_or_denies(fake_google: RunningServer) -> None:
    params = {k: v for k, v in auth_params().items() if k != "fake_decision"}
    for decision in ("allow", "deny"):
        consent = requests.get(f"{fake_google.url}/o/oauth2/v2/auth", params=params, timeout=5)
        action, hidden = _form_fields(consent.text, "consent")
        decided = requests.post(
            f"{fake_google.url}{action}",
            data={**hidden, "scope": [APP_CREATED], "decision": decision},
            allow_redirects=False,
            timeout=5,
        )
        query = parse_qs(urlsplit(decided.headers["Location"]).query)
        if decision == "deny":
            assert query["error"] == ["access_denied"]
        else:
            granted = exchange(fake_google, query["code"][0]).json()["scope"].split()
            assert APP_CREATED in granted


def test_userinfo_answers_the_accounts_stable_sub(fake_google: RunningServer) -> None:
    """Google's userinfo answers `sub`, the account's stable id, with the `openid` scope: the same for
    every consent of the account, another for another account."""

    def sub_of(email: str) -> str:
        tokens = exchange(fake_google, authorize(fake_google, login_hint=email)["code"]).json()
        info = requests.get(
            f"{fake_google.url}/oauth2/v3/userinfo",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=5,
        ).json()
        assert info["email"] == email
        return str(info["sub"])

    first = sub_of(EMAIL)
    assert first.isdigit() and sub_of(EMAIL) == first
    assert sub_of("other@clinic.test") != first
    state = requests.get(f"{fake_google.url}/_fake/state", timeout=5).json()
    assert {a["email"]: a["sub"] for a in state["accounts"]}[EMAIL] == first


def refresh(fake: RunningServer, refresh_token: str) -> requests.Response:
    return requests.post(
        f"{fake.url}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": LOCAL_CLIENT_ID,
            "client_secret": LOCAL_CLIENT_SECRET,
        },
        timeout=5,
    )


def test_revoking_one_consent_ends_every_grant_of_the_account(fake_google: RunningServer) -> None:
    """Google, as publicly reported (not stated in its reference), ends the account's whole grant to the
    client when any of its tokens is revoked: another consent of the same account stops working too.
    Another account's consent is untouched."""
    first = exchange(fake_google, authorize(fake_google)["code"]).json()
    second = exchange(fake_google, authorize(fake_google)["code"]).json()
    other = exchange(fake_google, authorize(fake_google, login_hint="other@clinic.test")["code"]).json()
    assert refresh(fake_google, second["refresh_token"]).status_code == 200

    assert requests.post(f"{fake_google.url}/revoke", data={"token": first["refresh_token"]}, timeout=5).ok

    refused = refresh(fake_google, second["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert api_status(fake_google, second["access_token"]) == 401
    assert refresh(fake_google, other["refresh_token"]).status_code == 200
    assert api_status(fake_google, other["access_token"]) == 200


def test_revoking_an_access_token_ends_the_accounts_grants_too(fake_google: RunningServer) -> None:
    first = exchange(fake_google, authorize(fake_google)["code"]).json()
    second = exchange(fake_google, authorize(fake_google)["code"]).json()
    assert requests.post(f"{fake_google.url}/revoke", data={"token": second["access_token"]}, timeout=5).ok
    assert refresh(fake_google, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(fake_google, second["refresh_token"]).json()["error"] == "invalid_grant"


def test_the_admin_state_shows_revoked_grants(fake_google: RunningServer) -> None:
    tokens = exchange(fake_google, authorize(fake_google)["code"]).json()
    exchange(fake_google, authorize(fake_google)["code"])
    kept = exchange(fake_google, authorize(fake_google, login_hint="other@clinic.test")["code"]).json()
    requests.post(f"{fake_google.url}/revoke", data={"token": tokens["refresh_token"]}, timeout=5)
    state = requests.get(f"{fake_google.url}/_fake/state", timeout=5).json()
    revoked = {(g["email"], g["revoked"]) for g in state["grants"]}
    assert revoked == {(EMAIL, True), ("other@clinic.test", False)}  # both of EMAIL's consents
    assert api_status(fake_google, kept["access_token"]) == 200
