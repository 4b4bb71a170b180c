"""Children of the local stack are stopped even when the code that started them never gets to stop them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from infra.local.processes import REPO_ROOT, ChildProcess, stop_children


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone too.
    return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_stop_children_stops_what_was_started_and_not_stopped(tmp_path: Path) -> None:
    child = ChildProcess("sleeper", ["sleep", "60"], log_dir=tmp_path)
    child.start()
    assert child.running()
    stop_children()
    assert not child.running() and child.pid is None


def test_a_sigterm_unwinds_the_program_and_stops_its_children(tmp_path: Path) -> None:
    """A program that holds a child in a `with`/`finally` and is sent SIGTERM stops the child on its way out
    (as pytest's fixtures do), where Python's default would die at once and leave the child running."""
    program = textwrap.dedent(
        f"""
        import sys, time
        from infra.local.processes import ChildProcess, stop_children_on_sigterm
        stop_children_on_sigterm()
        child = ChildProcess("sleeper", ["sleep", "60"], log_dir={str(tmp_path)!r})
        child.start()
        try:
            print(child.pid, flush=True)
            time.sleep(60)
        finally:
            child.stop()
            print("stopped", flush=True)
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", program],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    pid = int(holder.stdout.readline())
    assert alive(pid)
    holder.send_signal(signal.SIGTERM)
    out, err = holder.communicate(timeout=30)
    assert "stopped" in out and "KeyboardInterrupt" in err
    assert not alive(pid)
