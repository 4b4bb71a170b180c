"""Child processes of the local stack: each in its own process group, logged to a file, stopped whole.

Several parts are wrappers that start the real server as their own child (the Firestore emulator's
script runs `java`), so a child is always stopped through its process group: killing only the pid we
started would leave the real server running and its port taken.

Being in a group of their own, the children do not receive a signal sent to ours (Ctrl-C, or `timeout`
and CI limits, which signal the whole group): the process that started them must stop them. Children still
running when the interpreter exits are stopped then (atexit), and `stop_children_on_sigterm()` turns a
SIGTERM into a KeyboardInterrupt, so that `finally:` blocks and pytest's fixture teardown run as on Ctrl-C.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LOG_DIR = REPO_ROOT / ".local" / "logs"


class StartupError(RuntimeError):
    """A part of the local stack did not start; the message says why and what to do."""


# Children started and not stopped yet, stopped at exit whatever happened to the code that started them.
_RUNNING: set[ChildProcess] = set()
_RUNNING_LOCK = threading.Lock()


def stop_children() -> None:
    """Stop every child this process started and did not stop."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for child in running:
        with contextlib.suppress(Exception):
            child.stop()


atexit.register(stop_children)


def stop_children_on_sigterm() -> None:
    """From now on a SIGTERM raises KeyboardInterrupt in the main thread (once: later ones are ignored, so
    that the clean-up it starts is not cut short).

    Python's default for SIGTERM is to die at once, without `finally:` blocks or atexit, leaving the
    children (in their own process groups) running.
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


class ChildProcess:
    """One long-running program started in a new process group, with its output in `<log_dir>/<name>.log`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        log_dir: Path | str | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(os.environ if env is None else env)
        self.cwd = Path(cwd) if cwd is not None else REPO_ROOT
        self.log_path = Path(log_dir or DEFAULT_LOG_DIR) / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        """Start the program; its output goes to the log file (truncated first)."""
        if self._process is not None:
            raise RuntimeError(f"{self.name} already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("wb")
        # A new session puts the child and everything it starts in a process group of their own, which
        # stop() signals as a whole; it also keeps a terminal's Ctrl-C from reaching the children directly.
        self._process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with _RUNNING_LOCK:
            _RUNNING.add(self)
        log.info("started %s", self.name, extra={"pid": self._process.pid, "log": str(self.log_path)})

    def running(self) -> bool:
        """Whether the program we started is still alive."""
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the program wrote, to explain a failure."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, probe: Callable[[], bool], timeout: float, interval: float = 0.1) -> None:
        """Call `probe` until it answers True; fail if the program exits first or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                code = self._process.returncode if self._process else None
                raise StartupError(
                    f"{self.name} exited (code {code}) before it was ready; "
                    f"last lines of {self.log_path}:\n{self.log_tail()}"
                )
            # A probe that cannot connect yet means "not ready", not a failure.
            with contextlib.suppress(Exception):
                if probe():
                    return
            if time.monotonic() > deadline:
                raise StartupError(
                    f"{self.name} not ready after {timeout:.0f} s; last lines of {self.log_path}:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(interval)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the whole process group: SIGTERM, then SIGKILL for what is left after `timeout`."""
        process = self._process
        if process is None:
            return
        pgid = process.pid  # the session leader's pid is the group id
        _signal_group(pgid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s ignored SIGTERM; killing it", self.name)
        # Members that outlive the leader (or ignore SIGTERM) are killed too.
        _signal_group(pgid, signal.SIGKILL)
        process.wait()
        _wait_group_gone(pgid, timeout=5.0)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self._process = None
        with _RUNNING_LOCK:
            _RUNNING.discard(self)
        log.info("stopped %s", self.name)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _wait_group_gone(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
