"""Our HTTP functions, called as the clinic app's backend calls them (JSON in, JSON out)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from infra.local.identity import bearer, key_from_env
from infra.local.terraform_grants import LOCAL_CLINIC_APP_ACCOUNT

HTTP_TIMEOUT = 30  # an approval creates the calendar and a watch channel before it answers


class FunctionError(Exception):
    """A function refused the request: its error code and message (the clinic app's contract, README)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class Functions:
    """oauth_start, complete_link, approve_link, disable_link, resync_link and list_links of one functions base URL."""

    def __init__(
        self, base_url: str, clinic_id: str, identity: Callable[[str], dict[str, str]] | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.clinic_id = clinic_id
        self.identity = identity

    def start_link(
        self,
        center_id: str,
        user_id: str,
        professional_id: str | None,
        bidirectional: bool,
        return_url: str,
        reconnect: str | None = None,
    ) -> dict[str, Any]:
        """oauth_start: `{linkId, authorizationUrl}`; with `reconnect`, a new consent for that link."""
        body: dict[str, Any] = {
            "clinicId": self.clinic_id,
            "centerId": center_id,
            "userId": user_id,
            "bidirectional": bidirectional,
            "returnUrl": return_url,
        }
        if professional_id:
            body["professionalId"] = professional_id
        if reconnect:
            body["linkId"] = reconnect
        return self._call("POST", "oauth_start", json=body)

    def complete_link(self, user_id: str, link_id: str, code: str) -> dict[str, Any]:
        """complete_link: redeem oauth_callback's one-time code for the signed-in user: `{link, reason?}`."""
        body = {"clinicId": self.clinic_id, "userId": user_id, "linkId": link_id, "code": code}
        return self._call("POST", "complete_link", json=body)

    def decide(self, center_id: str, master_id: str, link_id: str, approve: bool) -> dict[str, Any]:
        """approve_link: the master's decision, from the centre the console is acting in."""
        body = {
            "clinicId": self.clinic_id,
            "centerId": center_id,
            "userId": master_id,
            "linkId": link_id,
            "decision": "approve" if approve else "reject",
        }
        return dict(self._call("POST", "approve_link", json=body)["link"])

    def disable(self, user_id: str, link_id: str) -> dict[str, Any]:
        body = {"clinicId": self.clinic_id, "userId": user_id, "linkId": link_id}
        return dict(self._call("POST", "disable_link", json=body)["link"])

    def resync(self, user_id: str, link_id: str) -> list[str]:
        """resync_link: what was queued (`backfill`, and `pull` for a two-way link)."""
        body = {"clinicId": self.clinic_id, "userId": user_id, "linkId": link_id}
        return list(self._call("POST", "resync_link", json=body)["queued"])

    def links(self, user_id: str) -> list[dict[str, Any]]:
        """list_links: the user's own links (a master's: every link of the clinic)."""
        answer = self._call("GET", "list_links", params={"clinicId": self.clinic_id, "userId": user_id})
        return list(answer["links"])

    def _call(self, method: str, name: str, **kwargs: Any) -> dict[str, Any]:
        try:
            url = f"{self.base_url}/{name}"
            headers = self.identity(url) if self.identity else {}
            response = requests.request(method, url, headers=headers, timeout=HTTP_TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise FunctionError("unreachable", f"{name} did not answer ({type(exc).__name__})", 503) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise FunctionError("bad_answer", f"{name} answered {response.status_code}", response.status_code)
        if response.status_code >= 400:
            error = answer.get("error") or {}
            raise FunctionError(
                str(error.get("code") or response.status_code),
                str(error.get("message") or ""),
                response.status_code,
            )
        return answer


def clinic_backend_identity(project: str) -> Callable[[str], dict[str, str]] | None:
    """Call as the clinic backend's service account, as the deployed functions require (infra/local/identity.py)."""
    key = key_from_env()
    if key is None:
        return None
    account = LOCAL_CLINIC_APP_ACCOUNT.format(project=project)
    return lambda url: bearer(key, account, url)
