"""Sandboxes in processes of their own, for benchmarks: one process per system, so the emulators neither share a
GIL with LedgerLink (or the baseline script) nor with each other, as real services wouldn't.

    python benchmarks/_sandboxes.py SYSTEM --data-dir D [--tls]

serves one sandbox until SIGTERM and prints its ``describe()`` as one JSON line (what ``ledgerlink worker
--connections`` reads). ``SandboxProcesses`` starts and stops them from a benchmark, and reads each system's own
request counters: Salesforce's ``/__admin/api-usage`` (the daily allocation, counted as Salesforce counts: OAuth
calls free) and KashFlow's ``/__admin/ratelimit`` ``allowed`` (every API request it admitted, logins included;
with no limit configured it still counts).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

SYSTEMS = ("salesforce", "kashflow")


@dataclass
class SandboxProcess:
    system: str
    process: subprocess.Popen[str]
    spec: dict[str, Any]

    @property
    def root(self) -> str:
        """The server's root URL (admin endpoints live there; the API base may carry a path such as /v2)."""
        url = str(self.spec["base_url"])
        return url[: -len("/v2")] if url.endswith("/v2") else url

    def client(self) -> httpx.Client:
        ca = self.spec.get("ca_file")
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca) if ca else True
        return httpx.Client(base_url=self.root, verify=verify, trust_env=False, timeout=30)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        with self.client() as http:
            response = http.request(method, path, json=body)
            response.raise_for_status()
            return response.json()

    def set_latency(self, latency_ms: float) -> None:
        self.admin("PUT", "/__admin/faults", {"latency_ms": latency_ms})

    def kashflow_token(self, http: httpx.Client) -> str:
        """A KashFlow session (user name and password, then three letters of the memorable word)."""
        creds = self.spec["credentials"]
        first = http.post("sessiontoken", json={"UserName": creds["username"], "Password": creds["password"]})
        first.raise_for_status()
        body = first.json()
        word = creds["memorable_word"]
        letters = [
            {"Position": p["Position"], "Value": word[int(p["Position"]) - 1]} for p in body["MemorableWordList"]
        ]
        second = http.put("sessiontoken", json={"TemporaryToken": body["TemporaryToken"], "MemorableWordList": letters})
        second.raise_for_status()
        return str(second.json()["SessionToken"])

    def calls(self) -> int:
        """The sandbox's own count of API requests served so far."""
        if self.system == "salesforce":
            return int(self.admin("GET", "/__admin/api-usage")["used"])
        return int(self.admin("GET", "/__admin/ratelimit")["allowed"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class SandboxProcesses:
    boxes: dict[str, SandboxProcess] = field(default_factory=dict)

    def __getitem__(self, system: str) -> SandboxProcess:
        return self.boxes[system]

    def specs(self) -> list[dict[str, Any]]:
        return [box.spec for box in self.boxes.values()]

    def write_connections(self, path: Path) -> Path:
        path.write_text("\n".join(json.dumps(spec) for spec in self.specs()) + "\n")
        return path

    def set_latency(self, latency_ms: float) -> None:
        for box in self.boxes.values():
            box.set_latency(latency_ms)

    def calls(self) -> dict[str, int]:
        return {name: box.calls() for name, box in self.boxes.items()}

    def cpu_seconds(self) -> float:
        """CPU the sandbox processes have spent so far."""
        return sum(cpu_seconds(box.process.pid) for box in self.boxes.values())

    def stop(self) -> None:
        for box in self.boxes.values():
            box.stop()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of a live process (``/proc/<pid>/stat`` fields 14-17), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 onwards
    return sum(int(x) for x in fields[11:15]) / CLOCK_TICKS


def start(system: str, data_dir: Path, *, tls: bool, env: dict[str, str] | None = None) -> SandboxProcess:
    """``env``: the sandbox process's environment (a ``_code.Code``'s, to serve that tree's sandbox)."""
    # Each its own folder: two processes generating TLS files in one folder would race.
    command = [sys.executable, str(Path(__file__).resolve()), system, "--data-dir", str(data_dir / system)]
    if tls:
        command.append("--tls")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=10)
        raise RuntimeError(f"the {system} sandbox process exited ({process.returncode}) before it started")
    spec = dict(json.loads(line))
    if tls and not spec.get("ca_file"):
        raise RuntimeError(f"the {system} sandbox did not start with TLS")
    box = SandboxProcess(system, process, spec)
    if system == "salesforce":
        # Backfills of 100,000 records would spend the default daily allocation (15,000) on seeding alone.
        box.admin("PUT", "/__admin/daily-limit", {"limit": 100_000_000})
    return box


@contextmanager
def sandboxes(
    data_dir: Path, systems: tuple[str, ...] = SYSTEMS, *, tls: bool = True, env: dict[str, str] | None = None
) -> Iterator[SandboxProcesses]:
    running = SandboxProcesses()
    try:
        for system in systems:
            running.boxes[system] = start(system, data_dir, tls=tls, env=env)
        yield running
    finally:
        running.stop()


def _serve(system: str, data_dir: Path, tls: bool) -> None:
    from ledgerlink.sandbox.runner import start_pubsub, start_sandbox

    box = start_sandbox(system, data_dir, tls=tls)  # type: ignore[arg-type]
    if system == "salesforce":
        start_pubsub(box, keepalive_seconds=5)  # Change Data Capture, for the event-latency benchmark
    print(json.dumps(box.describe()), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        box.server.server.force_exit = True
        box.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("system", choices=SYSTEMS)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--tls", action="store_true")
    args = parser.parse_args(argv)
    _serve(args.system, args.data_dir, args.tls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
