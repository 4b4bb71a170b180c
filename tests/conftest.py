"""Fixtures shared by the test tiers: the Firestore and Cloud Tasks emulators, and the whole local stack.

Everything listens on free ports, never on the fixed `make run` ports, so tests run beside a running
stack and beside each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.cloud import firestore as firestore_lib

from infra.local.emulators import EmulatorMissing, FirestoreEmulator, TasksEmulator, queue_names
from infra.local.environment import PROJECT_ID, TASKS_LOCATION, LocalPorts, free_port
from infra.local.processes import stop_children_on_sigterm
from infra.local.stack import LocalStack

TEST_QUEUES = ("push", "pull")


def pytest_configure(config: pytest.Config) -> None:
    """A run stopped by SIGTERM (`timeout`, a CI limit) tears its fixtures down as on Ctrl-C: the emulators,
    in process groups of their own, would not get the signal and would outlive the run."""
    stop_children_on_sigterm()


@dataclass
class FirestoreEmulatorHandle:
    """The running Firestore emulator: `host` as FIRESTORE_EMULATOR_HOST takes it, and `reset()`."""

    emulator: FirestoreEmulator
    project: str = PROJECT_ID

    @property
    def host(self) -> str:
        return self.emulator.host

    def reset(self) -> None:
        """Delete every document."""
        self.emulator.reset()

    def client(self) -> firestore_lib.Client:
        return firestore_lib.Client(project=self.project)


@pytest.fixture(scope="session")
def emulator_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the emulators started by tests write their output."""
    return tmp_path_factory.mktemp("emulator-logs")


@pytest.fixture(scope="session")
def firestore_emulator(emulator_logs: Path) -> Iterator[FirestoreEmulatorHandle]:
    """The official Firestore emulator on a free port; FIRESTORE_EMULATOR_HOST points at it meanwhile."""
    emulator = FirestoreEmulator(free_port(), PROJECT_ID, log_dir=emulator_logs)
    try:
        emulator.start()
    except EmulatorMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    with pytest.MonkeyPatch.context() as env:
        try:
            emulator.wait_ready()
            env.setenv("FIRESTORE_EMULATOR_HOST", emulator.host)
            env.setenv("GOOGLE_CLOUD_PROJECT", PROJECT_ID)
            yield FirestoreEmulatorHandle(emulator)
        finally:
            emulator.stop()


@pytest.fixture
def firestore(firestore_emulator: FirestoreEmulatorHandle) -> firestore_lib.Client:
    """A Firestore client on the emulator, emptied before the test."""
    firestore_emulator.reset()
    return firestore_emulator.client()


@pytest.fixture(scope="session")
def tasks_emulator(emulator_logs: Path) -> Iterator[TasksEmulator]:
    """The Cloud Tasks emulator on a free port, with the queues `push` and `pull` in demo-clinic."""
    queues = queue_names(PROJECT_ID, TASKS_LOCATION, TEST_QUEUES)
    emulator = TasksEmulator(free_port(), queues, max_retries=2, log_dir=emulator_logs)
    try:
        with emulator:
            yield emulator
    except EmulatorMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The whole local stack (`make run`) on free ports, for tests marked e2e."""
    stack = LocalStack(LocalPorts.free(), log_dir=tmp_path_factory.mktemp("stack-logs"))
    try:
        stack.start()
    except EmulatorMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield stack
    finally:
        stack.stop()
