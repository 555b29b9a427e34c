"""The vault: AES-GCM with each secret bound to its connection, the key file, and rotation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from ledgerlink.connections.store import Connections
from ledgerlink.store import Ledger
from ledgerlink.store.console_tables import Connection
from ledgerlink.vault import DecryptionError, KeyRing, Vault, VaultKeyError, generate_key, load_keyring, open_sealed
from ledgerlink.vault.keys import ENV_KEY
from ledgerlink.vault.vault import associated_data, rotate_env_key, rotate_key_file

CREDS = {"client_id": "id-123456", "client_secret": "very-secret-value"}


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")


def test_seal_and_open_round_trip() -> None:
    vault = Vault(KeyRing(generate_key()))
    sealed = vault.seal_secrets("sf", CREDS)
    assert "very-secret" not in sealed and sealed.startswith("v1.")
    assert vault.open_secrets("sf", sealed) == CREDS


def test_a_ciphertext_moved_to_another_connection_does_not_open() -> None:
    vault = Vault(KeyRing(generate_key()))
    sealed = vault.seal_secrets("sf-prod", CREDS)
    with pytest.raises(DecryptionError):
        vault.open_secrets("sf-test", sealed)
    with pytest.raises(DecryptionError):  # nor as the other kind of secret of the same connection
        vault.open_webhook_secret("sf-prod", sealed)


def test_tampering_and_the_wrong_key_are_detected() -> None:
    vault = Vault(KeyRing(generate_key()))
    sealed = vault.seal_secrets("sf", CREDS)
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    with pytest.raises(DecryptionError):
        vault.open_secrets("sf", flipped)
    with pytest.raises(DecryptionError) as info:
        Vault(KeyRing(generate_key())).open_secrets("sf", sealed)
    assert "very-secret" not in str(info.value)


def test_the_key_file_is_created_0600_on_first_use_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    first = load_keyring(tmp_path)
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600
    assert load_keyring(tmp_path).current.key_id == first.current.key_id


def test_a_key_file_others_can_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    load_keyring(tmp_path)
    os.chmod(tmp_path / "master.key", 0o644)
    with pytest.raises(VaultKeyError, match="chmod 600"):
        load_keyring(tmp_path)


def test_the_environment_key_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    monkeypatch.setenv(ENV_KEY, key.encode())
    ring = load_keyring(tmp_path)
    assert ring.source == "env" and ring.current.key_id == key.key_id
    assert not (tmp_path / "master.key").exists()
    monkeypatch.setenv(ENV_KEY, "not base64 at all!!")
    with pytest.raises(VaultKeyError) as info:
        load_keyring(tmp_path)
    assert "not base64" not in str(info.value)  # the message never repeats key material


def _reseal(ledger: Ledger, vault: Vault):  # type: ignore[no-untyped-def]
    def reseal(new_key):  # type: ignore[no-untyped-def]
        with ledger.session() as s:
            return vault.reseal_all(s, new_key)

    return reseal


def test_rotate_re_encrypts_every_secret_under_a_new_key_file(
    tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    ring = load_keyring(tmp_path)
    vault = Vault(ring)
    connections = Connections(ledger, vault)
    _view, hook = connections.add("sf", "salesforce", "https://login.example", CREDS)
    before = _sealed(ledger)

    new_key, count = rotate_key_file(ring.key_file, _reseal(ledger, vault))  # type: ignore[arg-type]
    assert count == 1 and new_key.key_id != ring.current.key_id
    assert _sealed(ledger) != before and all(new_key.key_id in s for s in _sealed(ledger))

    after = Connections(ledger, Vault(load_keyring(tmp_path)))
    assert after.spec("sf")["credentials"] == CREDS and after.webhook_secret("sf") == hook
    with pytest.raises(DecryptionError):  # the old key alone opens nothing any more
        open_sealed(KeyRing(current=ring.current), _sealed(ledger)[0], associated_data("sf", "credentials"))


def test_a_rotation_interrupted_after_resealing_still_opens(
    tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    ring = load_keyring(tmp_path)
    vault = Vault(ring)
    Connections(ledger, vault).add("sf", "salesforce", "https://login.example", CREDS)

    def reseal_then_crash(new_key):  # type: ignore[no-untyped-def]
        _reseal(ledger, vault)(new_key)
        raise KeyboardInterrupt  # power cut between commit and the key file's rename

    with pytest.raises(KeyboardInterrupt):
        rotate_key_file(ring.key_file, reseal_then_crash)  # type: ignore[arg-type]
    # The pending key is on the ring, so the secrets open; running rotate again finishes the job.
    recovered = load_keyring(tmp_path)
    assert Connections(ledger, Vault(recovered)).spec("sf")["credentials"] == CREDS
    rotate_key_file(recovered.key_file, _reseal(ledger, Vault(recovered)))  # type: ignore[arg-type]
    final = load_keyring(tmp_path)
    # The key retired by the finished rotation stays on the ring until the next one (a process may still use it).
    assert [k.key_id for k in final.others] == [ring.current.key_id]
    assert Connections(ledger, Vault(final)).spec("sf")["credentials"] == CREDS


def test_rotate_with_an_environment_key_needs_the_new_key(ledger: Ledger) -> None:
    vault = Vault(KeyRing(generate_key(), source="env"))
    Connections(ledger, vault).add("sf", "salesforce", "https://login.example", CREDS)
    with pytest.raises(VaultKeyError, match="LEDGERLINK_NEW_MASTER_KEY"):
        rotate_env_key(None, _reseal(ledger, vault))
    new_key = generate_key()
    _key, count = rotate_env_key(new_key.encode(), _reseal(ledger, vault))
    assert count == 1
    assert Connections(ledger, Vault(KeyRing(new_key))).spec("sf")["credentials"] == CREDS


def _sealed(ledger: Ledger) -> list[str]:
    with ledger.session() as s:
        return [c.secrets_sealed for c in s.scalars(select(Connection))]
