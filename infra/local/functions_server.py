"""Every Cloud Function entry point served locally as Cloud Functions serves it: each alone.

`python -m infra.local.functions_server --port 8080` starts one process per function, each given only
the environment and the secrets that infra/functions.tf grants it (infra/local/terraform_grants.py), on
gunicorn with as many threads as its Terraform concurrency, listening on a Unix socket; and in front of
them, on the port, the front door (infra/local/front_door.py), which checks the caller's identity against
the Terraform invokers and routes `/{function_name}` to the function at `/`.

Each function gets functions-framework's own app (`create_app`), exactly as its Cloud Functions instance
would, so requests are parsed and CloudEvents decoded by the same code as in the cloud. `build_app` mounts
every function in one WSGI app instead, for the in-process tests.

`--extra NAME:LIKE:SOURCE` also serves the function NAME of another source file exactly as the function LIKE
is served (same kind, grants, threads, server, front door): the bench compares `calendar_webhook` with a
function that does nothing this way, so that the only difference between the two is the code.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import functions_framework
from gunicorn.app.base import BaseApplication
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Request, Response

from infra.local.environment import function_environment
from infra.local.front_door import FrontDoor
from infra.local.identity import IDENTITY_KEY_VARIABLE, key_from_env
from infra.local.terraform_grants import FunctionGrant, function_grants
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


@dataclass(frozen=True)
class ExtraFunction:
    """A function outside main.py, served at `/{name}` as the entry point `like` is served."""

    name: str  # its target in `source`, and its path at the front door
    like: str  # the entry point whose kind, grants and server it gets
    source: Path

    def argument(self) -> str:
        """Its `--extra` argument (`NAME:LIKE:SOURCE`; the source last, as a path may hold a colon)."""
        return f"{self.name}:{self.like}:{self.source}"

    @classmethod
    def parse(cls, argument: str) -> ExtraFunction:
        name, like, source = argument.split(":", 2)
        if not (name and like and source):
            raise ValueError(f"an extra function is NAME:LIKE:SOURCE, not {argument!r}")
        return cls(name, like, Path(source))


def with_extras(
    grants: Mapping[str, FunctionGrant], extras: Sequence[ExtraFunction]
) -> dict[str, FunctionGrant]:
    """`grants` and each extra function's: those of the function it is served like, under its own name."""
    found = dict(grants)
    for extra in extras:
        if extra.name in found:
            raise ValueError(f"an extra function may not take the name of {extra.name!r}")
        if extra.like not in grants:
            raise ValueError(f"extra function {extra.name!r}: no function {extra.like!r} to serve it like")
        found[extra.name] = replace(grants[extra.like], name=extra.name)
    return found


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


def _gunicorn(app: WSGIApplication, options: Mapping[str, object]) -> None:
    """Serve `app` on gunicorn's threaded workers until SIGTERM or SIGINT."""

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> WSGIApplication:
            return app

    Server().run()  # the arbiter stops its workers on SIGTERM/SIGINT, then exits


def serve_function(name: str, bind: str, source: Path | str = SOURCE, kind: str | None = None) -> None:
    """Serve the one function `name` at `/` on `bind`, as its Cloud Functions instance does.

    functions-framework runs gunicorn in Cloud Functions: one worker, THREADS threads (Terraform sets
    THREADS to the function's concurrency). The app is loaded before the worker forks (the arbiter's
    copy is shared), which halves the imports of a stack of eleven functions on a small machine.
    `kind` defaults to the entry point's in main.py.
    """
    kind = kind or entry_points()[name]
    app = _at_root(functions_framework.create_app(target=name, source=str(source), signature_type=kind))
    _gunicorn(
        app,
        {
            "bind": bind,
            "workers": 1,
            "worker_class": "gthread",
            "threads": int(os.environ.get("THREADS", "8")),
            "preload_app": True,
            "timeout": 0,
            "graceful_timeout": 5,
            "loglevel": "warning",
            "accesslog": None,
        },
    )


def serve(host: str, port: int, source: Path | str = SOURCE, extras: Sequence[ExtraFunction] = ()) -> None:
    """Start each function (and each extra one) in its own process with its own grants, then serve the
    front door on `port`.

    The front door runs on gunicorn's threaded workers (one per core, `WORKERS`). Everything started here
    is in this process's group, which the local stack stops as a whole.
    """
    project = os.environ.get("GOOGLE_CLOUD_PROJECT", "demo-clinic")
    identity_key = key_from_env()
    if not identity_key:
        raise SystemExit(f"{IDENTITY_KEY_VARIABLE} is not set: private functions could not check callers")
    kinds = entry_points()
    grants = with_extras(function_grants(project), extras)
    sources = {name: (Path(source), kind) for name, kind in kinds.items()}
    sources |= {extra.name: (extra.source, kinds[extra.like]) for extra in extras}
    sockets_dir = Path(tempfile.mkdtemp(prefix="functions-"))
    sockets = {name: sockets_dir / f"{name}.sock" for name in sources}
    processes = []
    for name, path in sockets.items():
        env = function_environment(os.environ, grants[name])
        function_source, kind = sources[name]
        argv = [sys.executable, "-m", "infra.local.functions_server", "--function", name]
        argv += ["--bind", f"unix:{path}", "--source", str(function_source), "--signature-type", kind]
        processes.append(subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL))
    base_url = os.environ.get("FUNCTIONS_BASE_URL", f"http://{host}:{port}")
    front = FrontDoor(grants, sockets, identity_key, base_url)
    cores = os.cpu_count() or 1
    log.info("functions listening", extra={"url": f"http://{host}:{port}", "functions": len(sockets)})
    supervisor = os.getpid()
    try:
        _gunicorn(
            front,
            {
                "bind": f"{host}:{port}",
                "workers": int(os.environ.get("WORKERS", cores)),
                "worker_class": "gthread",
                # The front door only waits on the functions: enough threads for their whole capacity.
                "threads": sum(grant.concurrency for grant in grants.values()),
                "timeout": 0,
                "graceful_timeout": 5,  # Ctrl-C or `make run` stopping: in-flight requests get 5 s
                "loglevel": "warning",
                "accesslog": None,
            },
        )
    finally:
        # The front door's workers are forks of this process and unwind through here when they exit:
        # only the process that started the functions stops them.
        if os.getpid() == supervisor:
            _stop(processes, sockets_dir)


def _stop(processes: list[subprocess.Popen[bytes]], sockets_dir: Path) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    shutil.rmtree(sockets_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    # FUNCTION_SOURCE is functions-framework's own variable for the same setting.
    parser.add_argument("--source", default=os.environ.get("FUNCTION_SOURCE", str(SOURCE)))
    parser.add_argument("--function", help="serve only this function (one process of the stack)")
    parser.add_argument("--bind", help="with --function: where it listens, e.g. unix:/tmp/f.sock")
    parser.add_argument("--signature-type", help="with --function: http or cloudevent (default: main.py's)")
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        type=ExtraFunction.parse,
        metavar="NAME:LIKE:SOURCE",
        help="also serve the function NAME of SOURCE as the function LIKE is served",
    )
    args = parser.parse_args(argv)
    logs.configure()
    if args.function:
        bind = args.bind or f"{args.host}:{args.port}"
        serve_function(args.function, bind, args.source, args.signature_type)
    else:
        serve(args.host, args.port, args.source, args.extra)


if __name__ == "__main__":
    main()
