"""Convergence under faults: a short seeded soak in `make test`, a long one in `make soak`."""

from __future__ import annotations

import os

import pytest

from tests.integration.conftest import KEYRING, Sync
from tests.integration.soak import Soak


def soak(sync: Sync, seed: int, operations: int, made_in_google: float = 0.0) -> Soak:
    run = Soak(sync, seed)
    run.made_in_google = made_in_google
    with run.receiver:
        figures = run.run(operations)
        loop = run.no_loop()
    print(f"\nsoak seed={seed} {figures.line()} loop_writes={loop[0]} loop_docs={loop[1]}")
    print(f"soak covered: {dict(sorted(figures.kinds.items()))}")
    for detail in figures.details:
        print(f"soak detail: {detail}")
    assert (figures.duplicates, figures.lost, figures.diverged, figures.unhealed) == (0, 0, 0, 0), (
        figures.details[:20]
    )
    assert loop == (0, 0), "a quiet round after convergence wrote something"
    return run


def test_short_soak_converges(
    sync: Sync,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level("DEBUG")
    monkeypatch.setenv("SOAK_PROGRESS", "50")
    run = soak(
        sync,
        seed=int(os.environ.get("SOAK_SEED", "7")),
        operations=int(os.environ.get("SOAK_SHORT_OPS", "150")),
    )
    assert run.figures.faults > 0 and run.figures.ops == int(os.environ.get("SOAK_SHORT_OPS", "150"))
    # The appointments the run keeps in memory (so that a write reads no more than its own document) are
    # exactly the clinic's, and the run said how far it was as it went.
    assert run.model == run.appointments()
    assert "soak running: ops=50/" in capsys.readouterr().err
    # No secret and (privacy "none") no patient name anywhere in the logs or in what we stored or sent.
    stored = repr([d.to_dict() for c in sync.db.collections() if c.id != "clinics" for d in c.stream()])
    stored += repr([d.to_dict() for d in sync.db.collection_group("syncLinks").stream()])
    stored += repr([d.to_dict() for d in sync.db.collection_group("eventLinks").stream()])
    google_state = repr(sync.google.store.__dict__.get("calendars", ""))
    secrets = [*sync.google.store.refresh_tokens, "local-secret", KEYRING.split('"')[3]]
    for secret in secrets:
        assert secret not in caplog.text and secret not in stored
    assert "Ana López" not in caplog.text and "Ana López" not in google_state


def test_short_soak_with_series_all_day_events_and_copies_converges(sync: Sync) -> None:
    """A third of the Google edits are series, instances, "this and following", all-day events (busy and
    free) and copies of our events; a series counts as diverged once if any instance's appointment differs."""
    run = soak(
        sync,
        seed=int(os.environ.get("SOAK_SEED", "5")),
        operations=int(os.environ.get("SOAK_SHORT_OPS", "150")),
        made_in_google=0.35,
    )
    assert run.figures.ops == int(os.environ.get("SOAK_SHORT_OPS", "150"))


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_long_soak_converges(sync: Sync) -> None:
    """Every operation of both short soaks: a third of the Google edits are series, instances, "this and
    following", all-day events and copies (SOAK_MADE_IN_GOOGLE sets the share)."""
    soak(
        sync,
        seed=int(os.environ.get("SOAK_SEED", "11")),
        operations=int(os.environ.get("SOAK_OPS", "10000")),
        made_in_google=float(os.environ.get("SOAK_MADE_IN_GOOGLE", "0.35")),
    )
