"""Engine tests: real worker processes against the sandboxes, on SQLite and on the local PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from ledgerlink.sandbox.runner import SandboxSet, start_sandboxes
from tests.flows.conftest import flow_env  # noqa: F401  (a running LedgerLink, for the in-process worker tests)

POSTGRES_ADMIN_URL = os.environ.get("LEDGERLINK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_available() -> bool:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if not postgres_available():
        if os.environ.get("LEDGERLINK_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                f"PostgreSQL is required (LEDGERLINK_REQUIRE_POSTGRES=1) but {POSTGRES_ADMIN_URL} is unreachable"
            )
        pytest.skip(f"no PostgreSQL reachable at {POSTGRES_ADMIN_URL}; set LEDGERLINK_TEST_POSTGRES to run these tests")
    name = f"ledgerlink_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Worker:
    executor_id: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    data_dir: Path
    connections_file: Path
    env: dict[str, str]
    workers: dict[str, Worker] = field(default_factory=dict)

    def start(self, executor_id: str) -> Worker:
        log_path = self.data_dir / f"worker-{executor_id}.log"
        log = log_path.open("ab")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ledgerlink.cli",
                "worker",
                "--data-dir",
                str(self.data_dir),
                "--connections",
                str(self.connections_file),
                "--executor-id",
                executor_id,
                "--poll-interval",
                "1",
                "--lag",
                "0",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        worker = Worker(executor_id, process, log_path)
        self.workers[executor_id] = worker
        return worker

    def stop_all(self) -> None:
        for worker in self.workers.values():
            worker.stop()

    def logs(self) -> str:
        return "\n".join(w.log_path.read_text(errors="replace")[-3000:] for w in self.workers.values())


def make_cluster(data_dir: Path, sandboxes: SandboxSet, database_url: str | None) -> Cluster:
    connections = data_dir / "connections.jsonl"
    connections.write_text("\n".join(json.dumps(sb.describe()) for sb in sandboxes.sandboxes.values()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERLINK_")}
    if database_url:
        env["LEDGERLINK_DATABASE_URL"] = database_url
    return Cluster(data_dir=data_dir, connections_file=connections, env=env)


@pytest.fixture
def accounting_sandboxes(tmp_path: Path) -> Iterator[SandboxSet]:
    sandboxes = start_sandboxes(["salesforce", "kashflow"], tmp_path / "sandboxes")
    try:
        yield sandboxes
    finally:
        sandboxes.stop()


def wait_until(predicate: object, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return False
