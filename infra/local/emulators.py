"""The official Cloud Firestore emulator and the Cloud Tasks emulator, as managed child processes.

Firestore: Google's emulator (Java), from the Debian package `google-cloud-cli-firestore-emulator` or
the gcloud component `cloud-firestore-emulator`.

Cloud Tasks: PyPI `gcloud-tasks-emulator`, installed in its own virtualenv (`.venv-tasks`) because it pins
protobuf<5, which the functions' libraries cannot share. What it does and does not do (0.6.2):
- it delivers `http_request` tasks to their full URL with the task's method, headers and body; without
  a Content-Type header it sends `application/x-www-form-urlencoded`, so tasks must set their own;
- it adds `X-CloudTasks-QueueName` (the full queue path, where Google sends the short queue id),
  `X-CloudTasks-TaskName`, `-TaskRetryCount`, `-TaskExecutionCount` and `-TaskETA`;
- it sends no `Authorization` header: `oidc_token` is accepted and ignored. The stack runs it through
  infra/local/tasks_identity.py, which adds the token Cloud Tasks would mint for the task's account;
- it honours `schedule_time`; it accepts a task name that already exists (no `AlreadyExists`);
- it retries a failed delivery every 0.1 s with no backoff, forever unless started with `-r N`;
- it dispatches one task at a time per queue, with no request timeout;
- its gRPC server listens on every interface (`[::]:PORT`), whatever host is asked for.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import requests

from infra.local.environment import HOST, PROJECT_ID
from infra.local.identity import IDENTITY_KEY_VARIABLE
from infra.local.processes import DEFAULT_LOG_DIR, REPO_ROOT, ChildProcess, StartupError, port_open

FIRESTORE_EMULATOR_SCRIPT = "platform/cloud-firestore-emulator/cloud_firestore_emulator"
SDK_ROOTS = ("/usr/lib/google-cloud-sdk", "/usr/share/google-cloud-sdk", "/opt/google-cloud-sdk")
FIRESTORE_MISSING = (
    "The Cloud Firestore emulator is not installed. Install the Debian package "
    "`google-cloud-cli-firestore-emulator` (apt-get install google-cloud-cli-firestore-emulator), "
    "or run `gcloud components install cloud-firestore-emulator`; it needs Java 17 or newer. "
    "Set FIRESTORE_EMULATOR_BIN to use an emulator installed elsewhere."
)
TASKS_MISSING = (
    "The Cloud Tasks emulator is not installed. Create its virtualenv with `make install` "
    "(python -m venv .venv-tasks && .venv-tasks/bin/pip install gcloud-tasks-emulator==0.6.2), "
    "or set TASKS_EMULATOR_BIN to a `gcloud-tasks-emulator` executable."
)
STARTUP_TIMEOUT = 45.0
# The project's Firestore security rules: the emulator enforces them on client (non-admin) requests.
FIRESTORE_RULES = REPO_ROOT / "firestore.rules"


class EmulatorMissing(StartupError):
    """An emulator is not installed on this machine."""


def firestore_emulator_command(host: str, port: int, rules: Path | None = None) -> list[str]:
    """The command that starts the Firestore emulator here, or EmulatorMissing saying how to install it."""
    override = os.environ.get("FIRESTORE_EMULATOR_BIN")
    candidates = [Path(override)] if override else []
    gcloud = shutil.which("gcloud")
    sdk_roots = [Path(root) for root in SDK_ROOTS]
    if gcloud:
        sdk_roots.insert(0, Path(gcloud).resolve().parents[1])  # <sdk>/bin/gcloud
    candidates += [root / FIRESTORE_EMULATOR_SCRIPT for root in sdk_roots]
    for script in candidates:
        if script.is_file() and os.access(script, os.X_OK):
            if not shutil.which(os.environ.get("JAVA", "java")):
                raise EmulatorMissing(f"Java is needed to run {script}. {FIRESTORE_MISSING}")
            command = [str(script), "start", f"--host={host}", f"--port={port}"]
            # The emulator then enforces the rules on client requests; the server client libraries
            # (admin, "Bearer owner" on the emulator) bypass them, as service accounts do in the cloud.
            return command + ([f"--rules={rules}"] if rules is not None else [])
    if override:
        raise EmulatorMissing(f"FIRESTORE_EMULATOR_BIN={override} is not executable. {FIRESTORE_MISSING}")
    raise EmulatorMissing(FIRESTORE_MISSING)


def tasks_emulator_executable() -> str:
    """The `gcloud-tasks-emulator` program: $TASKS_EMULATOR_BIN, the repository's .venv-tasks, or PATH."""
    override = os.environ.get("TASKS_EMULATOR_BIN")
    if override:
        if Path(override).is_file() and os.access(override, os.X_OK):
            return override
        raise EmulatorMissing(f"TASKS_EMULATOR_BIN={override} is not an executable file. {TASKS_MISSING}")
    local = REPO_ROOT / ".venv-tasks" / "bin" / "gcloud-tasks-emulator"
    if local.is_file():
        return str(local)
    found = shutil.which("gcloud-tasks-emulator")
    if found:
        return found
    raise EmulatorMissing(TASKS_MISSING)


def reset_firestore(host: str, project: str = PROJECT_ID, timeout: float = 10.0) -> None:
    """Delete every document of the project's default database in the emulator at host:port."""
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    response = requests.delete(url, timeout=timeout)
    response.raise_for_status()


class _Emulator:
    """Shared start/stop/context-manager behaviour of the emulators."""

    name = "emulator"

    def __init__(self, port: int, log_dir: Path | str | None) -> None:
        self.port = port
        self.log_dir = log_dir
        self._process: ChildProcess | None = None

    @property
    def host(self) -> str:
        """host:port, as the *_EMULATOR_HOST variables take it."""
        return f"{HOST}:{self.port}"

    @property
    def process(self) -> ChildProcess:
        """The running emulator's process."""
        if self._process is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._process

    @property
    def child(self) -> ChildProcess | None:
        """The emulator's process, or None when it is not started."""
        return self._process

    @property
    def log_path(self) -> Path:
        return Path(self.log_dir or DEFAULT_LOG_DIR) / f"{self.name}.log"

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _probe(self) -> bool:
        raise NotImplementedError

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop(IDENTITY_KEY_VARIABLE, None)
        return env

    def start(self) -> None:
        """Start the emulator (without waiting for it; see wait_ready)."""
        env = self._environment()
        self._process = ChildProcess(self.name, self._command(), env=env, log_dir=self.log_dir)
        self._process.start()

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Block until the emulator answers requests."""
        self.process.wait_ready(self._probe, timeout)

    def stop(self) -> None:
        """Stop the emulator and every process it started."""
        if self._process is not None:
            self._process.stop()
            self._process = None

    def __enter__(self) -> Self:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class FirestoreEmulator(_Emulator):
    """Google's Cloud Firestore emulator on 127.0.0.1:`port`."""

    name = "firestore-emulator"

    def __init__(
        self,
        port: int,
        project: str = PROJECT_ID,
        log_dir: Path | str | None = None,
        rules: Path | None = FIRESTORE_RULES,
    ) -> None:
        super().__init__(port, log_dir)
        self.project = project
        self.rules = rules

    def _command(self) -> list[str]:
        return firestore_emulator_command(HOST, self.port, self.rules)

    def _probe(self) -> bool:
        # The emulator answers "Ok" on its root once its HTTP and gRPC endpoints are up.
        return requests.get(f"http://{self.host}/", timeout=1).status_code == 200

    def reset(self) -> None:
        """Delete every document of the project."""
        reset_firestore(self.host, self.project)


class TasksEmulator(_Emulator):
    """The Cloud Tasks emulator on `port`, with `queues` (full queue names) created at start."""

    name = "tasks-emulator"

    def __init__(
        self,
        port: int,
        queues: Iterable[str] = (),
        max_retries: int = 3,
        log_dir: Path | str | None = None,
        identity_key: str | None = None,
    ) -> None:
        super().__init__(port, log_dir)
        self.queues: Sequence[str] = list(queues)
        self.max_retries = max_retries
        self.identity_key = identity_key

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        if self.identity_key:
            env[IDENTITY_KEY_VARIABLE] = self.identity_key
        return env

    def _command(self) -> list[str]:
        executable = tasks_emulator_executable()
        if self.identity_key:
            # The emulator's own interpreter runs it with identity-bearing deliveries (tasks_identity.py).
            python = Path(executable).with_name("python")
            if not python.is_file():
                raise EmulatorMissing(f"no Python beside {executable} to run it with task identities")
            argv = [str(python), "-m", "infra.local.tasks_identity", "start", "--port", str(self.port)]
        else:
            argv = [executable, "start", "--port", str(self.port)]
        # Bounded: the emulator retries every 0.1 s with no backoff, so an unbounded failing task spins.
        argv += ["--max-retries", str(self.max_retries)]
        for queue in self.queues:
            argv += ["--default-queue", queue]
        return argv

    def _probe(self) -> bool:
        # The queues are created before the gRPC server starts, so an open port means ready to take tasks.
        return port_open(HOST, self.port)


def queue_names(project: str, location: str, queues: Iterable[str]) -> list[str]:
    """Full Cloud Tasks queue names: projects/{project}/locations/{location}/queues/{queue}."""
    return [f"projects/{project}/locations/{location}/queues/{queue}" for queue in queues]
