"""The local stack (`make run`) on free ports: every part answers, the trigger works, stop leaves nothing."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
import requests
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

import main
from infra.local.demo_data import DEMO_DOCUMENTS
from infra.local.environment import PROJECT_ID, LocalPorts, functions_environment, secret_variable
from infra.local.functions_server import ExtraFunction
from infra.local.identity import IDENTITY_KEY_VARIABLE, mint, new_key
from infra.local.processes import ChildProcess, port_open
from infra.local.stack import START_TIMEOUT, LocalStack
from infra.local.terraform_grants import function_grants, tasks_service_account

pytestmark = pytest.mark.e2e

# The method each HTTP function is called with (every other one takes POST).
GET_FUNCTIONS = {"oauth_callback", "list_links"}


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def json_log_lines(path: Path) -> list[dict[str, object]]:
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def test_every_function_is_served_at_its_own_path(local_stack: LocalStack) -> None:
    listing = requests.get(f"{local_stack.ports.functions_url}/", timeout=5)
    assert listing.json() == {"functions": sorted(main.ENTRY_POINTS)}

    for name, kind in main.ENTRY_POINTS.items():
        headers = local_stack.caller_headers(name)
        if kind == "cloudevent":
            # A body that is no CloudEvent is refused by functions-framework's own CloudEvent handling.
            response = requests.post(local_stack.function_url(name), data=b"{}", headers=headers, timeout=10)
            assert response.status_code in (400, 415), name
            continue
        method = "GET" if name in GET_FUNCTIONS else "POST"
        response = requests.request(
            method, local_stack.function_url(name), json={}, headers=headers, timeout=10
        )
        # Reaching the function: anything but the server's "no such function" (a function's own 404 is
        # a JSON error of the contract).
        assert not (response.status_code == 404 and "no function at" in response.text), name
        assert response.status_code != 405, name

    missing = requests.post(local_stack.function_url("no_such_function"), timeout=5)
    assert missing.status_code == 404


INTRUDER = "intruder@demo-clinic.iam.gserviceaccount.com"


def test_private_functions_refuse_callers_that_terraform_does_not_allow(local_stack: LocalStack) -> None:
    grants = local_stack.grants
    assert {name for name, grant in grants.items() if grant.public} == {"oauth_callback", "calendar_webhook"}
    accounts = {account for grant in grants.values() for account in grant.callers}
    for name, grant in grants.items():
        url = local_stack.function_url(name)
        method = "GET" if name in GET_FUNCTIONS else "POST"
        if grant.public:
            # Reachable without any identity, as Google's redirect and notifications are.
            assert requests.request(method, url, timeout=10).status_code not in (401, 403), name
            continue
        # A plain curl: no identity.
        assert requests.request(method, url, json={}, timeout=10).status_code == 403, name
        # Every other identity of the stack, and one nobody granted anything.
        for account in (accounts - grant.callers) | {INTRUDER}:
            headers = local_stack.caller_headers(name, account)
            answer = requests.request(method, url, json={}, headers=headers, timeout=10)
            assert answer.status_code == 403, (name, account)
        # A token for another function, a forged one, one signed with another key.
        (caller,) = grant.callers
        other = next(other for other in grants if other != name)
        for header in (
            local_stack.caller_headers(other, caller)["Authorization"],
            local_stack.caller_headers(name)["Authorization"][:-4] + "AAAA",
            "Bearer " + mint("not-the-stack-key", caller, url),
        ):
            answer = requests.request(method, url, json={}, headers={"Authorization": header}, timeout=10)
            assert answer.status_code == 401, (name, header)


def function_processes(stack: LocalStack) -> dict[str, list[int]]:
    """The processes serving each function (gunicorn's arbiter and its worker), by function name."""
    assert stack.functions.pid is not None
    found: dict[str, list[int]] = {}
    for pid in _group_members(stack.functions.pid):
        argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
        if b"--function" in argv:
            found.setdefault(argv[argv.index(b"--function") + 1].decode(), []).append(pid)
    return found


def environment_of(pid: int) -> dict[str, str]:
    raw = (Path("/proc") / str(pid) / "environ").read_bytes()
    pairs = (entry.split(b"=", 1) for entry in raw.split(b"\0") if b"=" in entry)
    return {key.decode(): value.decode() for key, value in pairs}


def test_each_function_runs_alone_with_only_the_secrets_terraform_grants(local_stack: LocalStack) -> None:
    processes = function_processes(local_stack)
    assert set(processes) == set(main.ENTRY_POINTS)
    for name, pids in processes.items():
        grant = local_stack.grants[name]
        for pid in pids:
            env = environment_of(pid)
            secrets = {key for key in env if key.startswith("SECRET_")}
            assert secrets == {secret_variable(secret) for secret in grant.secrets}, (name, secrets)
            assert IDENTITY_KEY_VARIABLE not in env, name
            assert env["THREADS"] == str(grant.concurrency), name
            assert env["TASKS_SERVICE_ACCOUNT"] == tasks_service_account(local_stack.project)


def test_the_emulators_and_the_fake_google_answer(local_stack: LocalStack) -> None:
    assert requests.get(f"http://{local_stack.firestore.host}/", timeout=5).text.strip() == "Ok"

    transport = CloudTasksGrpcTransport(channel=grpc.insecure_channel(local_stack.tasks.host))
    client = tasks_v2.CloudTasksClient(transport=transport)
    parent = f"projects/{local_stack.project}/locations/{local_stack.settings.tasks_location}"
    queues = {queue.name for queue in client.list_queues(parent=parent)}
    assert queues == set(local_stack.queues)

    state = requests.get(f"{local_stack.ports.fake_google_url}/_fake/state", timeout=5)
    assert state.status_code == 200


def test_the_demo_clinic_is_written(local_stack: LocalStack) -> None:
    db = local_stack.firestore_client()
    for path, data in DEMO_DOCUMENTS.items():
        assert db.document(path).get().to_dict() == data


def test_an_appointment_write_reaches_on_appointment_written(local_stack: LocalStack) -> None:
    db = local_stack.firestore_client()
    path = f"clinics/demo/appointments/e2e-{os.getpid()}-{time.time_ns()}"
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    db.document(path).set(
        {
            "professionalId": "marina",
            "centerId": "centro-a",
            "start": start,
            "end": start + timedelta(minutes=30),
            "status": "scheduled",
        }
    )

    def logged() -> bool:
        return any(
            entry.get("message") == "appointment written" and entry.get("document") == path
            for entry in json_log_lines(local_stack.functions.log_path)
        )

    assert wait_for(logged), f"no 'appointment written' for {path} in {local_stack.functions.log_path}"


# A function outside main.py that answers what its instance was given: its threads and its secrets.
PROBE_SOURCE = """
import os

import functions_framework


@functions_framework.http
def probe(request):
    return {"threads": os.environ["THREADS"], "secrets": sorted(k for k in os.environ if k.startswith("SECRET_"))}
"""


def test_an_extra_function_is_served_behind_the_front_door_as_the_function_it_copies(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(PROBE_SOURCE)
    ports = LocalPorts.free()
    env = {**os.environ, **functions_environment(ports), IDENTITY_KEY_VARIABLE: new_key()}
    extra = ExtraFunction("probe", like="calendar_webhook", source=source)
    argv = [sys.executable, "-m", "infra.local.functions_server", "--port", str(ports.functions)]
    server = ChildProcess(
        "functions",
        [*argv, "--extra", extra.argument()],
        env=env,
        log_dir=tmp_path,
    )
    server.start()
    try:
        index = f"{ports.functions_url}/"
        server.wait_ready(lambda: requests.get(index, timeout=1).status_code == 200, START_TIMEOUT)
        assert requests.get(index, timeout=5).json() == {"functions": sorted([*main.ENTRY_POINTS, "probe"])}
        # Public as calendar_webhook is: no identity token, its own process with its threads and secrets.
        answer = requests.post(f"{ports.functions_url}/probe", timeout=10)
        assert answer.status_code == 200, answer.text
        model = function_grants(PROJECT_ID)["calendar_webhook"]
        assert answer.json() == {
            "threads": str(model.concurrency),
            "secrets": sorted(secret_variable(secret) for secret in model.secrets),
        }
    finally:
        server.stop()


def test_a_stack_starts_within_a_minute_and_stop_leaves_no_process(tmp_path: Path) -> None:
    ports = LocalPorts.free()
    stack = LocalStack(ports, log_dir=tmp_path)
    began = time.monotonic()
    try:
        stack.start()
        assert time.monotonic() - began < START_TIMEOUT
        groups = stack.process_groups()
        assert len(groups) == 6  # Firestore, Tasks, fake Google, functions, bridge, console
        members = [pid for group in groups for pid in _group_members(group)]
        # The Firestore emulator's script runs java as a child: the group holds more than the leader.
        assert len(members) > len(groups)
    finally:
        stack.stop()

    assert stack.children() == []
    assert [pid for pid in members if _alive(pid)] == []
    for port in (ports.functions, ports.fake_google, ports.firestore, ports.tasks, ports.console):
        assert not port_open("127.0.0.1", port), port


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the command: state, ppid, pgrp, ...
            members.append(int(entry.name))
    return members


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status waits to be read
