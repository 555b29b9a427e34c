"""One worker process of the rate-limit proof: the Kashoo connector paced by the limiter shared through SQLite.

Usage: python -m tests.contract.rate_worker '<json config>'. It prints "ready" once imported and connected, then
reads the shared start time (epoch seconds) from stdin, so a slow interpreter start on a loaded machine eats no measured
time; prints {"requests": n, "calls": m} on exit.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ledgerlink.systems.kashoo.client import KashooClient, KashooSettings
from ledgerlink.systems.ratelimit import RateLimitSpec, SharedRateLimiter


class Deadline(Exception):
    pass


class UntilDeadline:
    """The shared limiter, but a slot granted after the deadline is handed back unused: the figures then count
    only requests sent inside the measured seconds."""

    def __init__(self, inner: SharedRateLimiter, deadline: float) -> None:
        self.inner, self.deadline = inner, deadline

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self.inner.slot():
            if time.time() >= self.deadline:
                raise Deadline
            yield


def main(config: dict[str, object]) -> dict[str, int]:
    shared = SharedRateLimiter(str(config["db_url"]), str(config["key"]), RateLimitSpec.parse(str(config["limit"])))
    seconds = float(str(config["seconds"]))
    pacer = UntilDeadline(shared, deadline=float("inf"))
    client = KashooClient(
        KashooSettings(
            base_url=str(config["base_url"]),
            email=str(config["email"]),
            password=str(config["password"]),
            token=str(config["token"]),  # one token for both workers: the server counts them as one client
            business_id=int(str(config["business_id"])),
            pacer=pacer,
        )
    )
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    pacer.deadline = start + seconds
    time.sleep(max(0.0, start - time.time()))
    done = 0
    while True:
        try:
            client.request("GET", client.path("contacts"), params={"limit": 1})
        except Deadline:
            break
        done += 1
    client.close()
    shared.close()
    return {"requests": done, "calls": client.calls_made}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
