"""What Bulk API 2.0 ingest and query jobs share: job ids, the per-org job registry, CSV dialects, job JSON.

Jobs live in memory (a restarted sandbox forgets them, like a job deleted after its 7 days); their effects on
records are ordinary writes through ``Dml``, so they persist like any other change.
"""

from __future__ import annotations

import csv
import io
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .context import CallContext
from .errors import ApiError, bad_request, not_found
from .org import SalesforceOrg
from .timefmt import format_ms

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
TERMINAL_STATES = frozenset({"JobComplete", "Failed", "Aborted"})
JOB_PREFIX = "750"


def invalid_job_state(message: str) -> ApiError:
    return ApiError(400, "INVALIDJOBSTATE", message)


@dataclass
class Job:
    """One Bulk API 2.0 job; ``lock`` guards state changes made by the API and by the worker thread."""

    id: str
    kind: str  # "ingest" | "query"
    operation: str
    object: str
    ctx: CallContext
    column_delimiter: str = "COMMA"
    line_ending: str = "LF"
    state: str = "Open"
    created_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    modstamp_ms: int = 0
    processed: int = 0
    failed: int = 0
    error_message: str | None = None
    started: float | None = None
    finished: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set_state(self, state: str, *, only_from: Iterable[str] | None = None) -> bool:
        """Move to ``state`` (only from the listed states, when given); True if it moved."""
        with self.lock:
            if only_from is not None and self.state not in set(only_from):
                return False
            self.state = state
            self.modstamp_ms = int(time.time() * 1000)
            if state == "InProgress":
                self.started = time.monotonic()
            if state in TERMINAL_STATES:
                self.finished = time.monotonic()
            return True

    @property
    def delimiter(self) -> str:
        return DELIMITERS[self.column_delimiter]

    @property
    def newline(self) -> str:
        return LINE_ENDINGS[self.line_ending]

    def summary(self) -> dict[str, Any]:
        """The JSON returned when the job is created or changes state."""
        return {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.ctx.user_id,
            "createdDate": format_ms(self.created_ms),
            "systemModstamp": format_ms(self.modstamp_ms or self.created_ms),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.ctx.api_version),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
        }

    def info(self) -> dict[str, Any]:
        """The JSON of ``GET jobs/<kind>/{id}``: the summary plus progress."""
        elapsed = 0
        if self.started is not None:
            elapsed = int(((self.finished or time.monotonic()) - self.started) * 1000)
        body = {
            **self.summary(),
            "jobType": "V2Query" if self.kind == "query" else "V2Ingest",
            "numberRecordsProcessed": self.processed,
            "retries": 0,
            "totalProcessingTime": elapsed,
        }
        if self.kind == "ingest":
            body.update(numberRecordsFailed=self.failed, apiActiveProcessingTime=elapsed, apexProcessingTime=0)
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body


class JobRegistry:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job

    def get(self, kind: str, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(ids.normalize(job_id) or job_id)
        if job is None or job.kind != kind:
            raise not_found("The requested resource does not exist")
        return job

    def all(self, kind: str) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.kind == kind]

    def remove(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)


_REGISTRIES: weakref.WeakKeyDictionary[SalesforceOrg, JobRegistry] = weakref.WeakKeyDictionary()
_REGISTRIES_LOCK = threading.Lock()


def jobs_of(org: SalesforceOrg) -> JobRegistry:
    """The org's jobs, kept beside the org rather than in it so the org class needs no change."""
    with _REGISTRIES_LOCK:
        registry = _REGISTRIES.get(org)
        if registry is None:
            registry = _REGISTRIES[org] = JobRegistry()
        return registry


def new_job_id(org: SalesforceOrg) -> str:
    return ids.make_id(JOB_PREFIX, org.db.next_counter(f"id:{JOB_PREFIX}"))


def dialect(body: dict[str, Any]) -> tuple[str, str]:
    """(columnDelimiter, lineEnding) from a job request, with Salesforce's defaults and errors."""
    delimiter = str(body.get("columnDelimiter") or "COMMA").upper()
    line_ending = str(body.get("lineEnding") or "LF").upper()
    if delimiter not in DELIMITERS:
        raise bad_request("INVALIDJOB", f"Invalid column delimiter: {delimiter}")
    if line_ending not in LINE_ENDINGS:
        raise bad_request("INVALIDJOB", f"Invalid line ending: {line_ending}")
    content_type = str(body.get("contentType") or "CSV").upper()
    if content_type != "CSV":
        raise bad_request("INVALIDJOB", f"Invalid content type: {content_type}; Bulk API 2.0 supports CSV only")
    return delimiter, line_ending


def write_csv(job: Job, header: list[str], rows: Iterable[list[str]]) -> bytes:
    """CSV in the job's dialect, every value quoted (as Salesforce writes its result files)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=job.delimiter, lineterminator=job.newline, quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def start_worker(name: str, target: Any, *args: Any) -> None:
    """Jobs run on a daemon thread so the API call that started them returns at once, as on Salesforce."""
    threading.Thread(target=target, args=args, name=name, daemon=True).start()
