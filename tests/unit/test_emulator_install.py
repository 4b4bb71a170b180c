"""infra/local/install-firestore-emulator.sh on a fresh machine, with apt, curl and Java stubbed: what it
runs, and what it says when Google's repository cannot be reached. (Nothing is installed for real.)"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "infra/local/install-firestore-emulator.sh"
EMULATOR = "platform/cloud-firestore-emulator/cloud_firestore_emulator"


def stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >> "$STUB_LOG"\n{body}\n')
    path.chmod(0o755)


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, Path]:
    """A PATH of stubs (and the few real tools the script needs), an empty SDK root, a log of calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "grep", "dirname", "readlink", "cat", "env", "mkdir", "chmod"):
        real = shutil.which(tool)
        assert real, tool
        (bin_dir / tool).symlink_to(real)
    sdk = tmp_path / "sdk"
    sdk.mkdir()
    stub(bin_dir, "java", "")
    stub(bin_dir, "gpg", "cat > /dev/null")
    return {"bin": bin_dir, "sdk": sdk, "log": tmp_path / "calls.log"}


def run(machine: dict[str, Path]) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": str(machine["bin"]),
        "GOOGLE_CLOUD_SDK_ROOTS": str(machine["sdk"]),
        "STUB_LOG": str(machine["log"]),
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def calls(machine: dict[str, Path]) -> list[str]:
    return machine["log"].read_text().splitlines() if machine["log"].exists() else []


def test_nothing_is_installed_when_the_emulator_is_there(machine: dict[str, Path]) -> None:
    emulator = machine["sdk"] / EMULATOR
    emulator.parent.mkdir(parents=True)
    emulator.write_text("#!/bin/sh\n")
    emulator.chmod(0o755)

    result = run(machine)

    assert result.returncode == 0, result.stderr
    assert not [call for call in calls(machine) if call.startswith(("apt-get", "curl"))]


def test_apt_installs_it_when_apt_knows_the_package(machine: dict[str, Path]) -> None:
    root = machine["sdk"]
    stub(machine["bin"], "apt-cache", "echo '  Candidate: 528.0.0-0'")
    # Installing the package puts the emulator where an SDK keeps it.
    stub(
        machine["bin"],
        "apt-get",
        f'if [ "$1" = install ]; then mkdir -p {root}/platform/cloud-firestore-emulator; '
        f"printf '#!/bin/sh\\n' > {root}/{EMULATOR}; chmod +x {root}/{EMULATOR}; fi",
    )

    result = run(machine)

    assert result.returncode == 0, result.stderr
    assert "apt-get install -y -q google-cloud-cli-firestore-emulator" in calls(machine)
    assert not [call for call in calls(machine) if call.startswith("curl")], "no repository added"


def test_without_googles_repository_it_says_so_and_fails(machine: dict[str, Path]) -> None:
    stub(machine["bin"], "apt-cache", "echo '  Candidate: (none)'")
    stub(machine["bin"], "apt-get", "")
    stub(machine["bin"], "curl", "exit 6")  # the repository's host cannot be reached

    result = run(machine)

    assert result.returncode == 1
    assert "curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg" in calls(machine)
    assert "apt-get install -y -q google-cloud-cli-firestore-emulator" not in calls(machine)
    assert "no other package registry carries it" in result.stderr
    assert "FIRESTORE_EMULATOR_BIN" in result.stderr
