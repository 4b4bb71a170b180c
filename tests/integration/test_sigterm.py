"""A test run stopped by SIGTERM (`timeout`, a CI time limit) leaves no emulator behind.

The emulators run in process groups of their own (infra/local/processes.py), out of reach of a signal sent
to pytest's group; pytest must stop them itself. Here a pytest run holding the Firestore emulator is sent
SIGTERM as `timeout` sends it, and the emulator's whole group (its wrapper script and the Java server it
started) must be gone when pytest exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from infra.local.processes import REPO_ROOT

HOLDER = """
import os
import time


def test_hold_the_emulator(firestore_emulator):
    pid = firestore_emulator.emulator.process.pid
    with open(os.environ["HOLDER_PID_FILE"], "w") as handle:
        handle.write(str(pid))
    time.sleep(600)
"""


def group_members(pgid: int) -> dict[int, str]:
    """pid -> command name of every live process in the process group `pgid`."""
    members: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        command, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        state, group = rest[0], int(rest[2])
        if group == pgid and state != "Z":
            members[int(entry.name)] = command
    return members


def wait_for(path: Path, process: subprocess.Popen[bytes], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return int(path.read_text())
        assert process.poll() is None, process.communicate()[0].decode(errors="replace")[-3000:]
        time.sleep(0.2)
    raise AssertionError("the emulator did not start in time")


def test_sigterm_stops_the_emulator_and_its_java_server(tmp_path: Path) -> None:
    (tmp_path / "test_holder.py").write_text(HOLDER)
    pid_file = tmp_path / "emulator.pid"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(REPO_ROOT / "pyproject.toml"),
        "-p",
        "tests.conftest",
    ]
    holder = subprocess.Popen(
        [*command, "-q", str(tmp_path / "test_holder.py")],
        cwd=REPO_ROOT,
        env=dict(os.environ, HOLDER_PID_FILE=str(pid_file)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a group of its own, which is sent the signal as `timeout` sends it
    )
    emulator_group = 0
    try:
        emulator_group = wait_for(pid_file, holder, timeout=180)
        members = group_members(emulator_group)
        assert any("java" in name for name in members.values()), (
            members
        )  # the real server, not only its script

        os.killpg(holder.pid, signal.SIGTERM)
        output = holder.communicate(timeout=60)[0].decode(errors="replace")
        left = group_members(emulator_group)
    finally:
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
            holder.wait()
        if emulator_group:  # whatever the outcome, nothing of this test stays behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(emulator_group, signal.SIGKILL)

    assert holder.returncode != 0, output  # interrupted, not passed
    assert left == {}, f"left running: {left}\n{output}"
