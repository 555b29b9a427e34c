"""Finding 3: `ledgerlink vault rotate` while a console runs loses nothing. The running console seals with the key
on disk from then on, the retired key stays while anything uses it, later rotations succeed, and a missing key
file is not silently replaced while secrets are sealed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ledgerlink.cli import app as cli_app
from ledgerlink.connections.store import Connections
from ledgerlink.store import Ledger, database_url
from ledgerlink.vault import Vault, VaultKeyError, load_keyring
from ledgerlink.vault.keys import ENV_KEY, KEY_FILE_NAME
from ledgerlink.web import ConsoleSettings, create_app
from tests.web.console_helpers import Served, api_token, serve_console

KASHFLOW = {"username": "u", "password": "p4ssword!", "memorable_word": "word"}


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.delenv("LEDGERLINK_DATABASE_URL", raising=False)
    with serve_console(tmp_path / "data") as served:
        yield served


def _add(served: Served, token: str, name: str) -> None:
    response = httpx.post(
        f"{served.url}/api/connections",
        json={"name": name, "system": "kashflow", "base_url": "http://127.0.0.1:9/v2", "secrets": KASHFLOW},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text


def _rotate(data_dir: Path) -> None:
    result = CliRunner().invoke(cli_app, ["vault", "rotate", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output


def _fresh_connections(data_dir: Path) -> Connections:
    """What a newly started process sees."""
    return Connections(Ledger(database_url(data_dir)), Vault(load_keyring(data_dir, create=False)))


def test_connections_added_after_a_rotation_stay_readable(running: Served) -> None:
    data_dir = running.data_dir
    token = api_token(running.url)
    _add(running, token, "before-rotate")
    _rotate(data_dir)
    _add(running, token, "after-rotate")  # the running console must seal this with the new key
    fresh = _fresh_connections(data_dir)
    for name in ("before-rotate", "after-rotate"):
        assert fresh.spec(name)["credentials"] == KASHFLOW
    _rotate(data_dir)  # used to abort: a row was sealed with a deleted key
    _add(running, token, "after-second-rotate")
    fresh = _fresh_connections(data_dir)
    for name in ("before-rotate", "after-rotate", "after-second-rotate"):
        assert fresh.spec(name)["credentials"] == KASHFLOW
    # Retired keys that nothing uses are gone after the second rotation; at most the latest one is kept.
    assert len(list(data_dir.glob(KEY_FILE_NAME + ".retired-*"))) <= 1


def test_a_retired_key_still_in_use_is_kept(running: Served) -> None:
    data_dir = running.data_dir
    token = api_token(running.url)
    _add(running, token, "kept")
    old_ring = load_keyring(data_dir, create=False)
    _rotate(data_dir)
    # A process that sealed with the old key just before it saw the new file:
    late = Vault(old_ring)
    late.current_ring = lambda: old_ring  # type: ignore[method-assign]
    with running.console.ledger.session() as s:
        from sqlalchemy import select

        from ledgerlink.store.console_tables import Connection

        row = s.scalar(select(Connection).where(Connection.name == "kept"))
        assert row is not None
        row.secrets_sealed = late.seal_secrets("kept", KASHFLOW)
    assert (data_dir / f"{KEY_FILE_NAME}.retired-{old_ring.current.key_id}").exists()
    assert _fresh_connections(data_dir).spec("kept")["credentials"] == KASHFLOW
    _rotate(data_dir)  # reseals the late row, then may drop the key nothing uses any more
    assert _fresh_connections(data_dir).spec("kept")["credentials"] == KASHFLOW


def test_a_missing_key_file_is_not_replaced_while_secrets_are_sealed(running: Served) -> None:
    data_dir = running.data_dir
    _add(running, api_token(running.url), "sealed")
    (data_dir / KEY_FILE_NAME).unlink()
    with pytest.raises(VaultKeyError, match="restore the key file"):
        create_app(ConsoleSettings(data_dir=data_dir, database_url=database_url(data_dir)))
    assert not (data_dir / KEY_FILE_NAME).exists()
    result = CliRunner().invoke(cli_app, ["vault", "rotate", "--data-dir", str(data_dir)])
    assert result.exit_code != 0 and "restore the key file" in result.output


def test_the_data_directory_and_ledger_are_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGERLINK_DATABASE_URL", raising=False)
    data_dir = tmp_path / "new-data"
    database_url(data_dir)
    assert data_dir.stat().st_mode & 0o777 == 0o700
    assert (data_dir / "ledgerlink.db").stat().st_mode & 0o777 == 0o600
