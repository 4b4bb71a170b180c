"""Re-seal every stored refresh token with the newest key of the token keyring, so old keys can go.

A key rotation appends a key to the secret `token-encryption-key` (the last key seals, any key opens).
Tokens sealed before stay under their old key until this command re-seals them; once it reports none
left under an old key, that key can be removed from the secret. Step by step: infra/README.md.

    GOOGLE_CLOUD_PROJECT=my-project python -m infra.reseal_tokens            # re-seal
    GOOGLE_CLOUD_PROJECT=my-project python -m infra.reseal_tokens --dry-run  # only count

It reads the keyring as the functions do (Secret Manager; `SECRETS_BACKEND=env` reads
SECRET_TOKEN_ENCRYPTION_KEY) and writes with the caller's Application Default Credentials, which need
`roles/secretmanager.secretAccessor` on the secret and `roles/datastore.user` on the project.
Each token is re-sealed in a transaction, so a token written meanwhile is never overwritten.
It can run again at any time: tokens already under the newest key are left alone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.cloud import firestore

from shared import config
from shared.adapters.firestore.documents import SECRETS
from shared.adapters.token_cipher import AesGcmCipher
from shared.bootstrap import build_services
from shared.config import Settings


@dataclass
class ResealReport:
    resealed: int = 0
    current: int = 0
    # Tokens no key of the keyring opens (their key was removed too early, or the data is damaged),
    # by link id: they are left as they are; their links need a new consent.
    unreadable: list[str] = field(default_factory=list)


def _sealed_documents(db: firestore.Client) -> Iterator[firestore.DocumentSnapshot]:
    yield from db.collection(SECRETS).stream()


def reseal(db: firestore.Client, cipher: AesGcmCipher, dry_run: bool = False) -> ResealReport:
    """Re-seal, with the keyring's newest key, every token sealed with another key."""
    report = ResealReport()
    for snapshot in _sealed_documents(db):
        sealed = (snapshot.to_dict() or {}).get("refreshToken")
        if not isinstance(sealed, dict):
            continue
        if sealed.get("kid") == cipher.current:
            report.current += 1
            continue
        link_id = snapshot.id
        try:
            # Opened first, outside the transaction: a token no key opens is reported, never rewritten.
            cipher.decrypt(sealed, context=link_id)
        except Exception:  # an unknown key id, or a token that does not open: both reported
            report.unreadable.append(link_id)
            continue
        if dry_run:
            report.resealed += 1
            continue
        if _reseal_one(db, cipher, snapshot.reference, link_id):
            report.resealed += 1
        else:
            report.current += 1
    return report


def _reseal_one(db: firestore.Client, cipher: AesGcmCipher, ref: Any, link_id: str) -> bool:
    """Re-seal one token in a transaction; False when it changed meanwhile to the newest key or went."""

    @firestore.transactional
    def update(transaction: firestore.Transaction) -> bool:
        snapshot = ref.get(transaction=transaction)
        sealed = (snapshot.to_dict() or {}).get("refreshToken") if snapshot.exists else None
        if not isinstance(sealed, dict) or sealed.get("kid") == cipher.current:
            return False
        token = cipher.decrypt(sealed, context=link_id)
        transaction.update(ref, {"refreshToken": cipher.encrypt(token, context=link_id)})
        return True

    result: bool = update(db.transaction())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true", help="count what would be re-sealed, write nothing")
    args = parser.parse_args(argv)
    services = build_services(Settings.from_env())
    cipher = AesGcmCipher(services.secrets.get(config.SECRET_TOKEN_KEYS))
    report = reseal(services.db, cipher, dry_run=args.dry_run)
    verb = "would re-seal" if args.dry_run else "re-sealed"
    print(f"newest key {cipher.current}: {verb} {report.resealed}, already under it {report.current}")
    if report.unreadable:
        print(
            f"{len(report.unreadable)} token(s) no key opens (left as they are; those links need a new "
            f"consent): {', '.join(sorted(report.unreadable))}",
            file=sys.stderr,
        )
        return 1
    if not args.dry_run:
        print("no token is sealed with an older key: older keys can be removed from the secret")
    return 0


if __name__ == "__main__":
    sys.exit(main())
