"""The dependency locks: every package pinned and hashed, every declared requirement locked, and every
install made from a lock with --require-hashes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# (declared, lock): what `make lock` compiles into what.
LOCKS = [
    ("requirements.in", "requirements.txt"),
    ("requirements-dev.in", "requirements-dev.txt"),
    ("infra/local/tasks-emulator.in", "infra/local/tasks-emulator.txt"),
    ("infra/checkov.in", "infra/checkov.txt"),
]
REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<spec>[^\s\\;]*)")
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_entries(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (the requirement's specifier, its hashes), from a pip-compile lock."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current: str | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            current = None
            continue
        if raw[0].isspace():  # a continuation of the requirement above: its hashes
            assert current is not None, f"{path.name}: stray line {raw!r}"
            option = line.rstrip("\\").strip()
            assert HASH.match(option), f"{path.name}: {current}: not a sha256 hash: {option!r}"
            entries[current][1].append(option)
            continue
        match = REQUIREMENT.match(line)
        assert match, f"{path.name}: not a requirement: {raw!r}"
        current = normalized(match["name"])
        assert current not in entries, f"{path.name}: {current} twice"
        entries[current] = (match["spec"], [])
    return entries


def declared(path: Path) -> dict[str, str]:
    """name -> specifier, of a .in file's own requirements (not its -r / -c lines)."""
    names: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = REQUIREMENT.match(line)
        assert match, f"{path.name}: not a requirement: {raw!r}"
        names[normalized(match["name"])] = match["spec"]
    return names


@pytest.mark.parametrize(("source", "lock"), LOCKS)
def test_every_locked_package_is_pinned_exactly_with_hashes(source: str, lock: str) -> None:
    entries = lock_entries(ROOT / lock)
    assert entries, f"{lock} locks nothing"
    for name, (spec, hashes) in entries.items():
        assert re.fullmatch(r"==[0-9][A-Za-z0-9.+!-]*", spec), (
            f"{lock}: {name} is not pinned with ==: {spec!r}"
        )
        assert hashes, f"{lock}: {name} has no --hash"


@pytest.mark.parametrize(("source", "lock"), LOCKS)
def test_every_declared_requirement_is_in_its_lock(source: str, lock: str) -> None:
    entries = lock_entries(ROOT / lock)
    for name, spec in declared(ROOT / source).items():
        assert name in entries, f"{source} declares {name}, {lock} does not lock it"
        if spec.startswith("=="):
            assert entries[name][0] == spec, f"{lock} locks {name}{entries[name][0]}, {source} says {spec}"


@pytest.mark.parametrize(("source", "lock"), LOCKS)
def test_locks_are_compiled_from_their_source_with_hashes(source: str, lock: str) -> None:
    header = (ROOT / lock).read_text().split("\n\n", 1)[0]
    command = re.search(r"#\s+pip-compile .*", header)
    assert command, f"{lock} was not written by pip-compile"
    assert "--generate-hashes" in command[0]
    assert command[0].rstrip().endswith(source.rsplit("/", 1)[-1]) or source in command[0]


def test_the_dev_lock_holds_the_runtime_lock_at_the_same_versions() -> None:
    runtime = lock_entries(ROOT / "requirements.txt")
    dev = lock_entries(ROOT / "requirements-dev.txt")
    for name, (spec, _) in runtime.items():
        assert name in dev, f"requirements-dev.txt misses the runtime's {name}"
        assert dev[name][0] == spec, f"{name}: runtime {spec}, dev {dev[name][0]}"
    source = (ROOT / "requirements-dev.in").read_text().splitlines()
    assert "-r requirements.in" in source and "-c requirements.txt" in source


def test_every_install_is_from_a_lock_with_required_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    commands = [line.strip() for line in makefile.splitlines() if line.startswith("\t")]
    installs = [line for line in commands if re.search(r"pip install", line)]
    assert installs
    for line in installs:
        assert "--require-hashes" in line, f"an install without hashes: {line}"
        # The lock is complete: pip resolves nothing again, and `pip check` (next) proves it.
        assert "--no-deps" in line, f"an install that resolves again: {line}"
        assert re.search(r"-r \S+", line), f"an install not from a lock: {line}"
        checked = "pip check" in line or commands[commands.index(line) + 1].endswith(" check")
        assert checked, f"no pip check after {line}"
    installed = {match[1] for line in installs if (match := re.search(r"-r (\S+\.txt)", line))}
    # The runtime lock is installed through the dev lock, which holds it.
    assert installed == {lock for _, lock in LOCKS} - {"requirements.txt"}
    for source, lock in LOCKS:
        assert f"--output-file={lock} {source}" in makefile, f"make lock does not compile {source}"


def test_the_cloud_bundle_ships_the_runtime_lock() -> None:
    source_tf = (ROOT / "infra/source.tf").read_text()
    assert '"requirements.txt"' in source_tf
    assert "!/requirements.txt" in (ROOT / ".gcloudignore").read_text()
