"""The functions' front door: what Cloud Run's front end does before a request reaches a function.

Every function runs in a process of its own (infra/local/functions_server.py), listening on a Unix socket
that only this front door connects to. For each request to `/{function}` it:

- refuses a call to a private function that lacks the identity Terraform allows (`invoker` in
  infra/functions.tf, the `roles/run.invoker` bindings): no bearer token 403, a token that is not valid
  for this function's URL 401, a valid token of another account 403, as Cloud Run answers;
- refuses a body over Cloud Run's request size limit (32 MiB for HTTP/1) with 413;
- hands the request to the function at `/`, as Cloud Functions does, and its answer back.

Public functions (Google's OAuth redirect and push notifications) are let through without a token.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from infra.local.identity import InvalidToken, verify
from infra.local.terraform_grants import FunctionGrant

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 32 * 1024 * 1024
# Headers that belong to one connection, never forwarded (RFC 9110, section 7.6.1).
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
FORWARD_TIMEOUT = 600.0  # longer than any function's timeout in infra/functions.tf


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def socket_answers(path: Path) -> bool:
    """Whether a server accepts connections on the Unix socket `path`."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(path))
    except OSError:
        return False
    return True


class FrontDoor:
    """A WSGI app routing `/{name}` to that function's socket once the caller is let in."""

    def __init__(
        self,
        grants: Mapping[str, FunctionGrant],
        sockets: Mapping[str, Path],
        identity_key: str,
        base_url: str,
    ) -> None:
        self.grants = dict(grants)
        self.sockets = dict(sockets)
        self.identity_key = identity_key
        self.base_url = base_url.rstrip("/")
        self._ready = False

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        name, _, rest = path.lstrip("/").partition("/")
        if not name:
            return self._index(start_response)
        if name not in self.sockets:
            body = {"error": {"code": "not_found", "message": f"no function at {path}"}}
            return _reply(start_response, "404 Not Found", json.dumps(body).encode(), "application/json")
        refusal = self._refusal(name, environ)
        if refusal is not None:
            status, reason, caller = refusal
            log.warning(
                "call refused", extra={"function": name, "status": status, "reason": reason, "caller": caller}
            )
            return _reply(start_response, status, f"{status}: {reason}\n".encode(), "text/plain")
        length = environ.get("CONTENT_LENGTH")
        if length and length.isdigit() and int(length) > MAX_REQUEST_BYTES:
            return _reply(start_response, "413 Payload Too Large", b"request too large\n", "text/plain")
        # A chunked body has no length: read at most one byte over the limit from the stream.
        body = environ["wsgi.input"].read(MAX_REQUEST_BYTES + 1)
        if len(body) > MAX_REQUEST_BYTES:
            return _reply(start_response, "413 Payload Too Large", b"request too large\n", "text/plain")
        return self._forward(name, "/" + rest, environ, body, start_response)

    def _refusal(self, name: str, environ: WSGIEnvironment) -> tuple[str, str, str | None] | None:
        """Why Cloud Run would refuse this call (status, reason, the caller's account if known), or None."""
        grant = self.grants[name]
        if grant.public:
            return None
        header = str(environ.get("HTTP_AUTHORIZATION", ""))
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "403 Forbidden", f"{name} requires an identity token of {grant.invoker}", None
        try:
            caller = verify(self.identity_key, token.strip(), audience=f"{self.base_url}/{name}")
        except InvalidToken as exc:
            return "401 Unauthorized", f"invalid identity token ({exc})", None
        if caller not in grant.callers:
            return "403 Forbidden", f"{caller} may not invoke {name}", caller
        return None

    def _forward(
        self, name: str, path: str, environ: WSGIEnvironment, body: bytes, start_response: StartResponse
    ) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING")
        target = path + (f"?{query}" if query else "")
        headers = {"Content-Length": str(len(body)), "Connection": "close"}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                header = key[5:].replace("_", "-").title()
                if header.lower() not in HOP_BY_HOP and header.lower() != "content-length":
                    headers[header] = value
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        connection = _UnixConnection(str(self.sockets[name]), FORWARD_TIMEOUT)
        try:
            connection.request(environ["REQUEST_METHOD"], target, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
        except OSError as exc:
            # Cloud Run answers 503 when no instance can take the request.
            log.warning("function unreachable", extra={"function": name, "problem": type(exc).__name__})
            return _reply(start_response, "503 Service Unavailable", b"function unavailable\n", "text/plain")
        finally:
            connection.close()
        if answer.status >= 500:
            log.warning("function answered 5xx", extra={"function": name, "status": answer.status})
        out = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length"}]
        out.append(("Content-Length", str(len(data))))
        start_response(f"{answer.status} {answer.reason}", out)
        return [data]

    def _index(self, start_response: StartResponse) -> Iterable[bytes]:
        # 200 once every function answers on its socket: the stack waits for that before it is ready.
        if not self._ready:
            starting = sorted(name for name, path in self.sockets.items() if not socket_answers(path))
            if starting:
                body = json.dumps({"starting": starting}).encode()
                return _reply(start_response, "503 Service Unavailable", body, "application/json")
            self._ready = True
        body = json.dumps({"functions": sorted(self.sockets)}).encode()
        return _reply(start_response, "200 OK", body, "application/json")


def _reply(start_response: StartResponse, status: str, body: bytes, mimetype: str) -> Iterable[bytes]:
    start_response(status, [("Content-Type", mimetype), ("Content-Length", str(len(body)))])
    return [body]
