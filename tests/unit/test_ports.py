"""The ports stay narrow, and each fake and adapter offers every method of its port with its parameters."""

from __future__ import annotations

import inspect
from typing import Any, Protocol

import pytest

import shared.ports
from shared.adapters.firestore.account_calendars import FirestoreAccountCalendars
from shared.adapters.firestore.channel_index import FirestoreChannelIndex
from shared.adapters.firestore.directory import FirestoreDirectory
from shared.adapters.firestore.links import FirestoreLinks
from shared.adapters.firestore.oauth_states import FirestoreOAuthStates
from shared.adapters.firestore.repairs import FirestoreRepairs
from shared.adapters.firestore.sealed_grants import FirestoreSealedGrants
from shared.adapters.firestore.sync_records import FirestoreSyncRecords
from shared.adapters.firestore.sync_status import FirestoreSyncStatus
from tests import fakes

MAX_METHODS = 10


def port_methods(port: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(port).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }


PROTOCOLS = [
    value
    for value in vars(shared.ports).values()
    if isinstance(value, type) and issubclass(value, Protocol) and value is not Protocol  # type: ignore[arg-type]
]


def test_every_protocol_is_found() -> None:
    assert {p.__name__ for p in PROTOCOLS} >= {"Links", "SealedGrants", "SyncRecords", "ClinicDirectory"}


@pytest.mark.parametrize("port", PROTOCOLS, ids=lambda p: p.__name__)
def test_no_port_has_more_than_ten_methods(port: type) -> None:
    assert 0 < len(port_methods(port)) <= MAX_METHODS


IMPLEMENTATIONS: list[tuple[type, list[type[Any]]]] = [
    (shared.ports.Links, [fakes.MemoryLinks, FirestoreLinks]),
    (shared.ports.SealedGrants, [fakes.MemorySealedGrants, FirestoreSealedGrants]),
    (shared.ports.SyncRecords, [fakes.MemorySyncRecords, FirestoreSyncRecords]),
    (shared.ports.SyncStatus, [fakes.MemorySyncStatus, FirestoreSyncStatus]),
    (shared.ports.ChannelIndex, [fakes.MemoryChannelIndex, FirestoreChannelIndex]),
    (shared.ports.Repairs, [fakes.MemoryRepairs, FirestoreRepairs]),
    (shared.ports.OAuthStates, [fakes.MemoryOAuthStates, FirestoreOAuthStates]),
    (shared.ports.AccountCalendars, [fakes.MemoryAccountCalendars, FirestoreAccountCalendars]),
    (shared.ports.ClinicDirectory, [fakes.MemoryDirectory, FirestoreDirectory]),
    (shared.ports.AgendaReader, [fakes.MemoryDirectory, FirestoreDirectory]),
]


@pytest.mark.parametrize(
    ("port", "implementations"), IMPLEMENTATIONS, ids=lambda p: getattr(p, "__name__", "")
)
def test_fake_and_adapter_offer_every_method_of_their_port(port: type, implementations: list[type]) -> None:
    for implementation in implementations:
        for name, signature in port_methods(port).items():
            offered = getattr(implementation, name, None)
            assert offered is not None, f"{implementation.__name__} lacks {port.__name__}.{name}"
            assert list(inspect.signature(offered).parameters) == list(signature.parameters), (
                f"{implementation.__name__}.{name} takes other parameters than {port.__name__}.{name}"
            )


def test_the_memory_store_offers_a_fake_of_every_storage_port_build_services_takes() -> None:
    from shared.bootstrap import Services

    ports = fakes.MemoryStore().ports()
    assert set(ports) == {
        "links",
        "grants",
        "records",
        "status",
        "channel_index",
        "states",
        "accounts",
        "repairs",
    }
    for name, fake in ports.items():
        assert name in vars(Services), name
        wanted = inspect.signature(vars(Services)[name].func).return_annotation
        assert type(fake).__name__ == "Memory" + wanted, (name, wanted)
