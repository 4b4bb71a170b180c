"""Every Cloud Function entry point served from one local server, each under `/{function_name}`.

Each function gets functions-framework's own app (`create_app`), exactly as its Cloud Functions instance
would, so requests are parsed and CloudEvents decoded by the same code as in the cloud; werkzeug's
DispatcherMiddleware routes `/{name}/...` to the function's app.

    python -m infra.local.functions_server --port 8080
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import functions_framework
from gunicorn.app.base import BaseApplication
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Request, Response

from shared import logs

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE = REPO_ROOT / "main.py"


def entry_points() -> dict[str, str]:
    """Each entry point of main.py and its kind ("http" or "cloudevent")."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import main

    return dict(main.ENTRY_POINTS)


def build_app(
    functions: Mapping[str, str] | None = None, source: Path | str = SOURCE
) -> DispatcherMiddleware:
    """A WSGI app serving each function of `source` at `/{name}`; `GET /` lists them.

    `functions` defaults to main.ENTRY_POINTS (name -> "http" | "cloudevent").
    """
    functions = entry_points() if functions is None else functions
    mounts: dict[str, WSGIApplication] = {
        f"/{name}": _at_root(
            functions_framework.create_app(target=name, source=str(source), signature_type=kind)
        )
        for name, kind in functions.items()
    }
    return DispatcherMiddleware(_index_app(functions), mounts)


def _at_root(app: WSGIApplication) -> WSGIApplication:
    """Hand `/{name}` to the function as `/`, as Cloud Functions does (Flask would redirect to `/{name}/`)."""

    def rooted(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not environ.get("PATH_INFO"):
            environ["PATH_INFO"] = "/"
        return app(environ, start_response)

    return rooted


def _index_app(functions: Iterable[str]) -> WSGIApplication:
    names = sorted(functions)

    def index(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = Request(environ).path
        if path == "/":
            response = Response(json.dumps({"functions": names}), mimetype="application/json")
        else:
            body = {"error": {"code": "not_found", "message": f"no function at {path}"}}
            response = Response(json.dumps(body), status=404, mimetype="application/json")
        return response(environ, start_response)

    return index


def serve(host: str, port: int, source: Path | str = SOURCE) -> None:
    """Serve every function until SIGTERM or Ctrl-C on gunicorn's threaded workers.

    That is the server functions-framework runs in Cloud Functions (one worker per instance, `THREADS`
    threads each). Here there is one worker per core by default (`WORKERS`): separate processes with their
    own caches, like separate instances; werkzeug's development server would serve one request at a time
    under the GIL with about twice the overhead per request.
    """
    app = build_app(source=source)
    cores = os.cpu_count() or 1
    options = {
        "bind": f"{host}:{port}",
        "workers": int(os.environ.get("WORKERS", cores)),
        "worker_class": "gthread",
        # functions-framework's default; the functions wait on I/O (Firestore, Google, Cloud Tasks).
        "threads": int(os.environ.get("THREADS", cores * 4)),
        "timeout": 0,
        "graceful_timeout": 5,  # Ctrl-C or `make run` stopping: in-flight requests get 5 s
        "loglevel": "warning",
        "accesslog": None,
    }

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> WSGIApplication:
            return app

    log.info("functions listening", extra={"url": f"http://{host}:{port}", "workers": options["workers"]})
    Server().run()  # until SIGTERM or SIGINT: the arbiter stops its workers, then exits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    # FUNCTION_SOURCE is functions-framework's own variable for the same setting.
    parser.add_argument("--source", default=os.environ.get("FUNCTION_SOURCE", str(SOURCE)))
    args = parser.parse_args(argv)
    logs.configure()
    serve(args.host, args.port, args.source)


if __name__ == "__main__":
    main()
