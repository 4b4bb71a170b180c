"""Fixtures for the fake Google: one in-process server per session, reset before each test; clients,
credentials, a calendar of the test account, and a webhook receiver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import Resource, build

from infra.local.fake_google import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, RunningServer, serve

from .google_client import EMAIL, Receiver

APP_CREATED = "https://www.googleapis.com/auth/calendar.app.created"
FULL_CALENDAR = "https://www.googleapis.com/auth/calendar"
REDIRECT_URI = "http://127.0.0.1:8080/oauth_callback"

ServiceFactory = Callable[[Credentials], Resource]
CredentialsFactory = Callable[..., Credentials]


@pytest.fixture(scope="session")
def fake_google_server() -> Iterator[RunningServer]:
    """The fake Google on a free port for the whole session."""
    server = serve(host="127.0.0.1", port=0)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_google(fake_google_server: RunningServer) -> RunningServer:
    """The session's fake Google, emptied (state, counters, faults, quotas) before the test."""
    fake_google_server.reset()
    return fake_google_server


@pytest.fixture
def calendar_service(fake_google: RunningServer) -> Callable[[Credentials], Resource]:
    """Build the real Calendar v3 client against the fake for some credentials."""

    def build_service(credentials: Credentials) -> Resource:
        return build(
            "calendar",
            "v3",
            credentials=credentials,
            static_discovery=True,
            client_options={"api_endpoint": fake_google.url + "/calendar/v3/"},
            cache_discovery=False,
        )

    return build_service


@pytest.fixture
def credentials_for(fake_google: RunningServer) -> Callable[..., Credentials]:
    """Credentials of `local-client` for an account, minted by the admin API (quick, no consent flow)."""

    def mint(email: str, scopes: list[str] | None = None, offline: bool = True) -> Credentials:
        answer = requests.post(
            f"{fake_google.url}/_fake/token",
            json={
                "email": email,
                "clientId": LOCAL_CLIENT_ID,
                "scopes": scopes or [FULL_CALENDAR],
                "offline": offline,
            },
            timeout=5,
        ).json()
        return Credentials(
            answer["access_token"],
            refresh_token=answer.get("refresh_token"),
            token_uri=f"{fake_google.url}/token",
            client_id=LOCAL_CLIENT_ID,
            client_secret=LOCAL_CLIENT_SECRET,
            scopes=answer["scope"].split(),
        )

    return mint


@pytest.fixture
def oauth_login(fake_google: RunningServer, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Credentials]:
    """Credentials from the real authorization-code flow (google-auth-oauthlib, PKCE, offline access)."""
    # The fake speaks plain http; and Google renames `email` to its userinfo scope, as oauthlib may not expect.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")

    def login(email: str, scopes: list[str] | None = None, **auth_params: Any) -> Credentials:
        flow = Flow.from_client_config(
            {
                "web": {
                    "client_id": LOCAL_CLIENT_ID,
                    "client_secret": LOCAL_CLIENT_SECRET,
                    "auth_uri": f"{fake_google.url}/o/oauth2/v2/auth",
                    "token_uri": f"{fake_google.url}/token",
                    "redirect_uris": [REDIRECT_URI],
                }
            },
            scopes=scopes or ["openid", "email", APP_CREATED],
            redirect_uri=REDIRECT_URI,
        )
        url, _state = flow.authorization_url(
            access_type="offline", prompt="consent", login_hint=email, fake_decision="allow", **auth_params
        )
        answer = requests.get(url, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, answer.text
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        flow.fetch_token(code=code)
        credentials: Credentials = flow.credentials
        return credentials

    return login


@pytest.fixture
def service(calendar_service: ServiceFactory, credentials_for: CredentialsFactory) -> Resource:
    return calendar_service(credentials_for(EMAIL))


@pytest.fixture
def calendar_id(service: Resource) -> str:
    return str(service.calendars().insert(body={"summary": "DASI eCLINIC"}).execute()["id"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    handle = Receiver()
    yield handle
    handle.stop()
