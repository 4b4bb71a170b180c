"""The whole project on one machine: `make run` runs `python -m infra.local.stack` in the foreground.

It starts the Firestore emulator (with firestore.rules), the Cloud Tasks emulator (with the functions'
queues), the fake Google, every function in a process of its own behind the front door that checks
callers (infra/local/functions_server.py), the Firestore-trigger bridge and the console, writes the demo
clinic, and prints where each part listens. What Google Cloud enforces is enforced here as Terraform
declares it: each function's secrets, who may invoke it, the security rules. Ctrl-C or SIGTERM stops every process it
started. Each part's output goes to `.local/logs/<part>.log`.

Ports default to the fixed local addresses and move with FUNCTIONS_PORT, FAKE_GOOGLE_PORT,
FIRESTORE_PORT, TASKS_PORT, CONSOLE_PORT (see infra/local/environment.py). Tests start the same stack
on free ports:

    with LocalStack(LocalPorts.free(), log_dir=tmp_path) as stack:
        requests.get(stack.function_url("list_links"), headers=stack.caller_headers("list_links"), ...)
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Self

import requests
from google.cloud import firestore

from infra.local.emulators import FIRESTORE_RULES, FirestoreEmulator, TasksEmulator, queue_names
from infra.local.environment import HOST, PROJECT_ID, LocalPorts, functions_environment
from infra.local.functions_server import ExtraFunction, with_extras
from infra.local.identity import IDENTITY_KEY_VARIABLE, bearer, new_key, write_key
from infra.local.processes import DEFAULT_LOG_DIR, REPO_ROOT, ChildProcess, StartupError, port_open
from infra.local.terraform_grants import eventarc_service_account, function_grants, queue_max_attempts
from shared.config import Settings

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0
_ENV_LOCK = threading.Lock()


class LocalStack:
    """Every local part of the project, started and stopped together."""

    def __init__(
        self,
        ports: LocalPorts | None = None,
        *,
        log_dir: Path | str | None = None,
        project: str = PROJECT_ID,
        demo_data: bool = True,
        tasks_max_retries: int | None = None,
        extra_functions: Sequence[ExtraFunction] = (),
    ) -> None:
        """`extra_functions` are served beside main.py's, each as the function it names is (the bench's
        reference function); the front door lists them too."""
        self.ports = ports or LocalPorts.from_env()
        self.log_dir = Path(log_dir) if log_dir is not None else DEFAULT_LOG_DIR
        self.project = project
        self.demo_data = demo_data
        self.env = {**os.environ, **functions_environment(self.ports, project), "PYTHONUNBUFFERED": "1"}
        self.env.pop(IDENTITY_KEY_VARIABLE, None)
        # The key of this run's identity tokens: only the parts that play Google's callers (Cloud Tasks,
        # Eventarc, the clinic backend) and the functions' front door get it (infra/local/identity.py).
        self.identity_key = new_key()
        callers_env = {**self.env, IDENTITY_KEY_VARIABLE: self.identity_key}
        self.grants = with_extras(function_grants(project), extra_functions)
        self.settings = Settings.from_env(self.env)
        self.queues = queue_names(
            project, self.settings.tasks_location, [self.settings.push_queue, self.settings.pull_queue]
        )
        self.firestore = FirestoreEmulator(
            self.ports.firestore, project, log_dir=self.log_dir, rules=FIRESTORE_RULES
        )
        if tasks_max_retries is None:
            # As many attempts as the most generous queue in Terraform: a task of a queue with fewer ends on
            # its own last attempt, where its worker answers 200 with a dead letter (the emulator bounds every
            # queue alike, and retries every 0.1 s instead of backing off).
            tasks_max_retries = max(queue_max_attempts().values()) - 1
        self.tasks = TasksEmulator(
            self.ports.tasks,
            self.queues,
            max_retries=tasks_max_retries,
            log_dir=self.log_dir,
            identity_key=self.identity_key,
        )
        python = sys.executable
        fake_google_env = {**self.env, "FAKE_GOOGLE_REDIRECT_PREFIXES": f"{self.ports.functions_url}/"}
        self.fake_google = self._child(
            "fake-google",
            [python, "-m", "infra.local.fake_google", "--host", HOST, "--port", str(self.ports.fake_google)],
            fake_google_env,
        )
        self.functions = self._child(
            "functions",
            [
                python,
                "-m",
                "infra.local.functions_server",
                "--host",
                HOST,
                "--port",
                str(self.ports.functions),
                *(f"--extra={extra.argument()}" for extra in extra_functions),
            ],
            callers_env,
        )
        self.bridge = self._child(
            "bridge",
            [
                python,
                "-m",
                "infra.local.bridge",
                "--target",
                self.function_url("on_appointment_written"),
                "--identity",
                eventarc_service_account(project),
            ],
            callers_env,
        )
        self.console = self._child(
            "console",
            [python, "-m", "infra.local.console", "--host", HOST, "--port", str(self.ports.console)],
            callers_env,
        )
        self._started: list[ChildProcess | FirestoreEmulator | TasksEmulator] = []

    def _child(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> ChildProcess:
        return ChildProcess(name, argv, env=env or self.env, cwd=REPO_ROOT, log_dir=self.log_dir)

    def firestore_client(self) -> firestore.Client:
        """A Firestore client on this stack's emulator (for tests and scripts in this process)."""
        # The client reads FIRESTORE_EMULATOR_HOST once, when it is built; the variable is set only for
        # that moment so this process can hold clients of other emulators too.
        with _ENV_LOCK:
            previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
            os.environ["FIRESTORE_EMULATOR_HOST"] = self.firestore.host
            try:
                return firestore.Client(project=self.project)
            finally:
                if previous is None:
                    del os.environ["FIRESTORE_EMULATOR_HOST"]
                else:
                    os.environ["FIRESTORE_EMULATOR_HOST"] = previous

    def function_url(self, name: str) -> str:
        """Where the function `name` answers."""
        return f"{self.ports.functions_url}/{name}"

    def caller_headers(self, name: str, account: str | None = None) -> dict[str, str]:
        """The Authorization header of a call to `name` as its Terraform caller (or `account`).

        Empty for a public function unless `account` is given. Tests and scripts call the private
        functions with it, as the clinic backend, Cloud Tasks or Scheduler would.
        """
        grant = self.grants[name]
        if account is None:
            if grant.public:
                return {}
            (account,) = grant.callers
        return bearer(self.identity_key, account, self.function_url(name))

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start every part and wait until each answers; on failure stop what was started and raise."""
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(deadline - time.monotonic(), 0.1)

        try:
            write_key(self.log_dir, self.identity_key)  # for `python -m infra.local.identity FUNCTION`
            # Independent parts start together; each is waited for only when something needs it.
            for part in (self.firestore, self.tasks, self.fake_google, self.functions, self.console):
                part.start()
                self._started.append(part)
            self.firestore.wait_ready(left())
            self.bridge.start()
            self._started.append(self.bridge)
            self.tasks.wait_ready(left())
            self.fake_google.wait_ready(lambda: port_open(HOST, self.ports.fake_google), left())
            self.functions.wait_ready(self._functions_answer, left())
            self.bridge.wait_ready(self._bridge_ready, left())
            self.console.wait_ready(lambda: port_open(HOST, self.ports.console), left())
            if self.demo_data:
                self._write_demo_data(left())
        except BaseException:
            self.stop()
            raise

    def _functions_answer(self) -> bool:
        return requests.get(f"{self.ports.functions_url}/", timeout=1).status_code == 200

    def _bridge_ready(self) -> bool:
        # The bridge logs this once the appointments already present are recorded as its baseline.
        return '"bridge ready"' in self.bridge.log_path.read_text(errors="replace")

    def _write_demo_data(self, timeout: float) -> None:
        log_path = self.log_dir / "demo-data.log"
        with log_path.open("wb") as output:
            result = subprocess.run(
                [sys.executable, "-m", "infra.local.demo_data"],
                env=self.env,
                cwd=REPO_ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if result.returncode != 0:
            raise StartupError(f"writing the demo data failed; see {log_path}:\n{log_path.read_text()}")

    def stop(self) -> None:
        """Stop every part that was started, the last started first; safe to call twice."""
        while self._started:
            part = self._started.pop()
            try:
                part.stop()
            except Exception:
                log.exception("could not stop a part of the stack")

    def _parts(self) -> list[ChildProcess]:
        parts = [
            self.firestore.child,
            self.tasks.child,
            self.fake_google,
            self.functions,
            self.bridge,
            self.console,
        ]
        return [part for part in parts if part is not None]

    def children(self) -> list[ChildProcess]:
        """The processes of the stack that are running now."""
        return [part for part in self._parts() if part.running()]

    def process_groups(self) -> list[int]:
        """Process group ids of the running parts (each part is the leader of its own group)."""
        return [child.pid for child in self.children() if child.pid is not None]

    def dead_children(self) -> list[ChildProcess]:
        """Parts that were started and have exited since."""
        return [part for part in self._parts() if part.pid is not None and not part.running()]

    def table(self) -> str:
        """What runs where, for people."""
        rows = [
            ("Functions", f"{self.ports.functions_url}/{{function}}", self.functions.log_path),
            ("Fake Google", self.ports.fake_google_url, self.fake_google.log_path),
            ("Firestore emulator", self.firestore.host, self.firestore.log_path),
            ("Cloud Tasks emulator", self.tasks.host, self.tasks.log_path),
            ("Trigger bridge", "appointments -> /on_appointment_written", self.bridge.log_path),
            ("Console", f"{self.ports.console_url}/", self.console.log_path),
        ]
        width = max(len(name) for name, _, _ in rows)
        address_width = max(len(address) for _, address, _ in rows)
        lines = [
            f"{name:<{width}}  {address:<{address_width}}  {_relative(path)}" for name, address, path in rows
        ]
        queues = ", ".join(q.rsplit("/", 1)[-1] for q in self.queues)
        lines += [
            "",
            f"project {self.project}; queues {queues} in {self.settings.tasks_location}",
            f"demo clinic 'demo' (users admin, pautrave, marina); console URL {self.ports.console_url}",
            f"export FIRESTORE_EMULATOR_HOST={self.firestore.host} CLOUD_TASKS_EMULATOR_HOST={self.tasks.host}",
            "private functions want the identity Terraform allows them: "
            'curl -H "Authorization: Bearer $(python -m infra.local.identity FUNCTION)" ...',
        ]
        return "\n".join(lines)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        raise KeyboardInterrupt  # also interrupts a start that is still waiting

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    stack = LocalStack()
    began = time.monotonic()
    try:
        stack.start()
        print(f"\nLocal stack ready in {time.monotonic() - began:.1f} s\n\n{stack.table()}\n")
        print("Ctrl-C stops everything.", flush=True)
        while not stopping.wait(1.0):
            dead = stack.dead_children()
            if dead:
                for child in dead:
                    print(f"\n{child.name} exited; last lines of {child.log_path}:\n{child.log_tail()}")
                return 1
        return 0
    except KeyboardInterrupt:
        return 0
    except StartupError as exc:
        print(f"\nThe local stack did not start: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nStopping...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
