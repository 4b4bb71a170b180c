"""infra/reseal_tokens.py on the Firestore emulator: after a key rotation, every sealed refresh token ends
under the newest key, so the old key can be removed and every link still opens its token."""

from __future__ import annotations

import json

import pytest
from cryptography.exceptions import InvalidTag
from google.cloud import firestore as firestore_lib

from infra import reseal_tokens
from shared.adapters.firestore.sealed_grants import FirestoreSealedGrants
from shared.adapters.token_cipher import AesGcmCipher, new_keyring

OLD = json.loads(new_keyring("k1"))
NEW = json.loads(new_keyring("k2"))
TOKENS = {"link-a": "1//refresh-a", "link-b": "1//refresh-b"}


def seal_with(firestore: firestore_lib.Client, keyring: dict[str, str]) -> None:
    cipher = AesGcmCipher(json.dumps(keyring))
    for link_id, token in TOKENS.items():
        firestore.collection("linkSecrets").document(link_id).set(
            {"refreshToken": cipher.encrypt(token, context=link_id)}
        )


def kids(firestore: firestore_lib.Client) -> dict[str, str]:
    return {
        snapshot.id: snapshot.to_dict()["refreshToken"]["kid"]
        for snapshot in firestore.collection("linkSecrets").stream()
    }


def test_rotation_reseals_every_token_so_the_old_key_can_go(firestore: firestore_lib.Client) -> None:
    seal_with(firestore, OLD)
    rotated = AesGcmCipher(json.dumps({**OLD, **NEW}))  # the new key appended: it seals

    counted = reseal_tokens.reseal(firestore, rotated, dry_run=True)
    assert (counted.resealed, counted.current) == (2, 0)
    assert set(kids(firestore).values()) == {"k1"}, "a dry run writes nothing"

    report = reseal_tokens.reseal(firestore, rotated)
    assert (report.resealed, report.current, report.unreadable) == (2, 0, [])
    assert set(kids(firestore).values()) == {"k2"}

    # The old key removed: every link still opens its token, bound to its own link id.
    new_only = AesGcmCipher(json.dumps(NEW))
    store = FirestoreSealedGrants(firestore)
    for link_id, token in TOKENS.items():
        sealed = store.encrypted_token(link_id)
        assert sealed is not None
        assert new_only.decrypt(sealed, context=link_id) == token
    with pytest.raises(InvalidTag):  # AES-GCM refuses a token moved to another link
        new_only.decrypt(store.encrypted_token("link-a") or {}, context="link-b")

    again = reseal_tokens.reseal(firestore, rotated)
    assert (again.resealed, again.current) == (0, 2), "a second run changes nothing"


def test_a_token_no_key_opens_is_reported_and_left_alone(firestore: firestore_lib.Client) -> None:
    seal_with(firestore, OLD)
    firestore.collection("linkSecrets").document("link-lost").set(
        {"refreshToken": AesGcmCipher(new_keyring("k0")).encrypt("1//lost", context="link-lost")}
    )
    before = firestore.collection("linkSecrets").document("link-lost").get().to_dict()

    report = reseal_tokens.reseal(firestore, AesGcmCipher(json.dumps({**OLD, **NEW})))

    assert report.resealed == 2
    assert report.unreadable == ["link-lost"]
    assert firestore.collection("linkSecrets").document("link-lost").get().to_dict() == before


def test_the_command_reads_the_keyring_as_the_functions_do(
    firestore: firestore_lib.Client, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seal_with(firestore, OLD)
    monkeypatch.setenv("SECRETS_BACKEND", "env")
    monkeypatch.setenv("SECRET_TOKEN_ENCRYPTION_KEY", json.dumps({**OLD, **NEW}))

    assert reseal_tokens.main([]) == 0

    assert "re-sealed 2" in capsys.readouterr().out
    assert set(kids(firestore).values()) == {"k2"}
