"""AES-256-GCM sealing. A sealed value is text: ``v1.<key_id>.<base64(nonce || ciphertext+tag)>``.

The associated data is not stored: the caller supplies it again to open, so a ciphertext copied onto another
connection's row fails authentication instead of decrypting.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledgerlink.vault.keys import KeyRing, MasterKey

VERSION = "v1"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A sealed value could not be opened (wrong key, wrong associated data, or tampered). Says nothing more."""


def seal(key: MasterKey, plaintext: bytes, associated_data: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(key.material).encrypt(nonce, plaintext, associated_data)
    return f"{VERSION}.{key.key_id}.{base64.urlsafe_b64encode(nonce + body).decode()}"


def key_id_of(sealed: str) -> str:
    parts = sealed.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise DecryptionError("not a sealed value")
    return parts[1]


def open_sealed(ring: KeyRing, sealed: str, associated_data: bytes) -> bytes:
    key = ring.by_id(key_id_of(sealed))
    if key is None:
        raise DecryptionError(f"sealed with key {key_id_of(sealed)}, which is not in the key ring")
    try:
        raw = base64.urlsafe_b64decode(sealed.split(".")[2].encode())
        return AESGCM(key.material).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data)
    except (InvalidTag, binascii.Error, ValueError):
        raise DecryptionError("authentication failed: wrong key, wrong connection, or tampered") from None
