"""Running the fake in a background thread of the current process (tests, the local stack)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app, runtime_of
from .runtime import FakeGoogle
from .store import Store


class _QuietHandler(WSGIRequestHandler):
    """Keeps tests' output readable: no access-log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class RunningServer:
    """A fake Google serving on a real port until `stop()`."""

    def __init__(self, app: Flask, server: BaseWSGIServer) -> None:
        self.app = app
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-google", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._server.host)

    @property
    def port(self) -> int:
        return int(self._server.port)

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:54321` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def fake(self) -> FakeGoogle:
        """Config, store, quotas, faults and notifier of this instance."""
        return runtime_of(self.app)

    @property
    def store(self) -> Store:
        """The in-memory state (hold `store.lock` while reading it from another thread)."""
        return self.fake.store

    def reset(self) -> None:
        """The same as POST /_fake/reset."""
        self.fake.reset()

    def wait_for_notifications(self, timeout: float = 10.0) -> bool:
        """Block until every queued watch notification was delivered (or dropped)."""
        return self.fake.notifier.wait_idle(timeout)

    def stop(self) -> None:
        """Stop serving and stop the notification worker."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.fake.notifier.stop()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True, **config: Any) -> RunningServer:
    """Start a fake Google on `host:port` (0: a free port) in a thread; `config`: FakeGoogleConfig fields.

    With `quiet`, requests are not access-logged (errors still are).
    """
    app = create_app(**config)
    handler = _QuietHandler if quiet else WSGIRequestHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    return RunningServer(app, server)
