"""Refresh tokens are sealed with AES-GCM before they are stored.

The key secret holds a JSON object of key id -> base64url 32-byte key; the LAST entry seals, any entry
opens, so a rotation adds a key at the end and old tokens stay readable until they are re-sealed.
The link id is bound as associated data: a sealed token copied to another link does not open.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AesGcmCipher:
    def __init__(self, keyring_json: str) -> None:
        keyring = json.loads(keyring_json)
        if not isinstance(keyring, dict) or not keyring:
            raise ValueError("the token key secret must be a JSON object of key id -> base64url key")
        self.keys = {kid: AESGCM(_unb64(key)) for kid, key in keyring.items()}
        self.current = list(keyring)[-1]

    def encrypt(self, plaintext: str, context: str) -> dict[str, Any]:
        nonce = os.urandom(12)
        sealed = self.keys[self.current].encrypt(nonce, plaintext.encode(), context.encode())
        return {"kid": self.current, "nonce": _b64(nonce), "ciphertext": _b64(sealed), "alg": "A256GCM"}

    def decrypt(self, sealed: Mapping[str, Any], context: str) -> str:
        key = self.keys.get(sealed["kid"])
        if key is None:
            raise KeyError(f"token sealed with unknown key {sealed['kid']}")
        return key.decrypt(_unb64(sealed["nonce"]), _unb64(sealed["ciphertext"]), context.encode()).decode()


def new_keyring(kid: str = "k1") -> str:
    """A fresh keyring secret value (for set-up scripts and tests)."""
    return json.dumps({kid: _b64(AESGCM.generate_key(bit_length=256))})
