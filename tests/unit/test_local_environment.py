"""The local stack's addresses and the environment it gives the functions."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from infra.local.environment import LocalPorts, function_environment, functions_environment, secret_variable
from infra.local.identity import IDENTITY_KEY_VARIABLE
from infra.local.terraform_grants import function_grants, runtime_environment_names
from shared.adapters.secrets import EnvSecrets
from shared.adapters.token_cipher import AesGcmCipher
from shared.config import SECRET_OAUTH_CLIENT_SECRET, SECRET_TOKEN_KEYS, SECRET_WEBHOOK_KEY, Settings


def test_default_ports_are_the_fixed_local_addresses() -> None:
    ports = LocalPorts.from_env({})

    assert (ports.functions, ports.fake_google, ports.firestore, ports.tasks, ports.console) == (
        8080,
        8090,
        8081,
        8123,
        8070,
    )


def test_each_port_moves_with_its_variable() -> None:
    ports = LocalPorts.from_env({"FUNCTIONS_PORT": "9080", "TASKS_PORT": "9123", "FIRESTORE_PORT": ""})

    assert ports.functions == 9080
    assert ports.tasks == 9123
    assert ports.firestore == 8081


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = LocalPorts.free()
    numbers = [ports.functions, ports.fake_google, ports.firestore, ports.tasks, ports.console]

    assert len(set(numbers)) == 5
    assert not {8080, 8090, 8081, 8123, 8070} & set(numbers)
    for number in numbers:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", number))


def test_the_functions_settings_point_at_the_local_stand_ins() -> None:
    ports = LocalPorts(functions=1, fake_google=2, firestore=3, tasks=4, console=5)
    env = functions_environment(ports)

    settings = Settings.from_env(env)

    assert env["FIRESTORE_EMULATOR_HOST"] == "127.0.0.1:3"
    assert settings.project_id == "demo-clinic"
    assert settings.functions_base_url == "http://127.0.0.1:1"
    assert settings.oauth_redirect_uri == "http://127.0.0.1:1/oauth_callback"
    assert settings.google.token_uri == "http://127.0.0.1:2/token"
    assert settings.tasks_emulator_host == "127.0.0.1:4"
    assert settings.console_url == "http://127.0.0.1:5"
    assert settings.secrets_backend == "env"
    assert settings.oauth_client_id == "local-client"


def test_the_local_secrets_are_readable_through_the_secrets_port() -> None:
    secrets = EnvSecrets(functions_environment(LocalPorts()))

    assert secrets.get(SECRET_OAUTH_CLIENT_SECRET) == "local-secret"
    assert secrets.get(SECRET_WEBHOOK_KEY)
    keyring = secrets.get(SECRET_TOKEN_KEYS)
    assert list(json.loads(keyring)) == ["local-1"]
    cipher = AesGcmCipher(keyring)
    assert cipher.decrypt(cipher.encrypt("refresh-token", "link-1"), "link-1") == "refresh-token"


# Set locally and never in the cloud: the stand-ins' addresses, and the secrets (Secret Manager there).
LOCAL_ONLY = {"FIRESTORE_EMULATOR_HOST", "CLOUD_TASKS_EMULATOR_HOST", "GOOGLE_BASE_URL", "CONSOLE_URL"}


def test_the_functions_get_no_setting_that_terraform_does_not_give_them() -> None:
    env = functions_environment(LocalPorts())
    settings = {name for name in env if not name.startswith("SECRET_")}
    assert settings - LOCAL_ONLY <= runtime_environment_names(), (
        settings - LOCAL_ONLY - runtime_environment_names()
    )


def test_each_function_gets_only_its_granted_secrets_and_never_the_callers_key() -> None:
    stack_env = {**functions_environment(LocalPorts()), IDENTITY_KEY_VARIABLE: "k", "PATH": "/bin"}
    grants = function_grants("demo-clinic")
    seen = set()
    for name, grant in grants.items():
        env = function_environment(stack_env, grant)
        secrets = {key for key in env if key.startswith("SECRET_")}
        assert secrets == {secret_variable(secret) for secret in grant.secrets}, name
        assert IDENTITY_KEY_VARIABLE not in env
        assert env["PATH"] == "/bin" and env["THREADS"] == str(grant.concurrency)
        seen.add(frozenset(secrets))
    assert frozenset() in seen and len(seen) > 2, "the grants differ between functions"


def test_the_workers_and_the_tasks_emulator_get_the_queues_attempts_from_terraform(tmp_path: Path) -> None:
    from infra.local.stack import LocalStack
    from infra.local.terraform_grants import first, queue_max_attempts, resolve, resources

    attempts = queue_max_attempts()
    for name, body in resources("google_cloud_tasks_queue").items():
        assert resolve(first(body["retry_config"])["max_attempts"]) == attempts[name], name
    settings = Settings.from_env(functions_environment(LocalPorts.free()))
    assert (settings.max_attempts("push"), settings.max_attempts("pull")) == (
        attempts["push"],
        attempts["pull"],
    )
    # The emulator retries as often as the most generous queue; a task of a queue with fewer attempts ends
    # on its own last one, where its worker answers 200 with a dead letter.
    stack = LocalStack(LocalPorts.free(), log_dir=tmp_path, demo_data=False)
    assert stack.tasks.max_retries == max(attempts.values()) - 1
