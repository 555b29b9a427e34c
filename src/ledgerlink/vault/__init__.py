"""Credentials encrypted at rest with AES-GCM; each secret is bound to its connection by associated data."""

from ledgerlink.vault.cipher import DecryptionError, open_sealed, seal
from ledgerlink.vault.keys import KeyRing, MasterKey, VaultKeyError, generate_key, load_keyring
from ledgerlink.vault.vault import Vault

__all__ = [
    "DecryptionError",
    "KeyRing",
    "MasterKey",
    "Vault",
    "VaultKeyError",
    "generate_key",
    "load_keyring",
    "open_sealed",
    "seal",
]
