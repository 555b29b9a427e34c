"""The process-wide runtime: the ledger, the systems' clients, and DBOS launched on SQLite or PostgreSQL.

Workflows take only ids as arguments (DBOS checkpoints them); a workflow takes its dependencies from ``current()``
once and hands them to its steps, so the same workflow code runs in the demo, the tests and any number of workers.
The engine names no flow: flows register themselves (``engine.flows.flow``) before ``start``.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig, Queue, SetEnqueueOptions, SetWorkflowID, WorkflowHandle
from dbos._error import DBOSQueueDeduplicatedError

from ledgerlink.engine import queue_wake
from ledgerlink.engine.flows import ACCOUNTING, BACKGROUND, CONNECTION_ROLES, CRM, registered_flows
from ledgerlink.settings import LedgerLinkSettings, Schedule, TaxRule, load_settings
from ledgerlink.store import Ledger
from ledgerlink.store.database import is_sqlite, serialise_in_process

if TYPE_CHECKING:
    from ledgerlink.systems.accounting import AccountingSystem

log = logging.getLogger(__name__)
R = TypeVar("R")


# How often each worker looks for runs to start on a record queue, for work that other processes enqueue or free:
# this process's own enqueues and finished runs wake its look at once (engine.queue_wake). Every look is a write
# transaction whatever the load: at 50 ms the looks alone took a quarter of a busy worker's interpreter.
QUEUE_POLL_SECONDS = 0.5
# Without the wake (a DBOS version lacking what queue_wake needs) a run waits for the timer: look more often.
UNWOKEN_QUEUE_POLL_SECONDS = 0.1
# The triggers queue is looked at less often: a polling trigger runs every few seconds anyway, and a change event
# that wakes one (customer and product sync) waits at most this much longer.
TRIGGERS_POLL_SECONDS = 0.5


@dataclass
class QueueSettings:
    name: str
    worker_concurrency: int = 4
    rate_limit: int | None = None  # workflows started per period
    period_seconds: float = 1.0
    # Partitioned queues run at most this many workflows per partition key at once, across all workers:
    # one run per source record at a time, so two runs for the same record can't both create its invoice.
    partition_concurrency: int | None = None
    poll_seconds: float = QUEUE_POLL_SECONDS  # how often each worker looks for runs to start


TRIGGERS_QUEUE = "triggers"  # polling triggers; deduplicated by flow, so at most one per flow waits or runs
# Record runs go on the queue of the connection they write to (named after its system), which carries that
# connection's concurrency and rate limit (roles: engine.flows.CRM, ACCOUNTING).
DEFAULT_CONNECTION_CONCURRENCY = 8
# Lower numbers dequeue first, among the runs of one shard (DBOS 3.4 sweeps a partitioned queue's partitions in
# random order). Across shards, change events overtake a backfill because the backfill keeps only a small window
# of its runs in the queue at a time (engine.polling.drain), not because of these numbers.
REALTIME_PRIORITY = 1
BACKFILL_PRIORITY = 10


def triggers_queue() -> QueueSettings:
    return QueueSettings(TRIGGERS_QUEUE, worker_concurrency=2, poll_seconds=TRIGGERS_POLL_SECONDS)


def connection_queue(
    concurrency: int = DEFAULT_CONNECTION_CONCURRENCY, rate_limit: tuple[int, float] | None = None
) -> QueueSettings:
    """A connection's record queue (named when the runtime starts). Partitioned by shard of records (``shard_key``):
    at most one run per shard at a time across all workers, so two runs for the same record can't both create its
    invoice.
    The rate limit caps runs *started* per period (each run makes at least one call, so never more runs than the
    API allows calls); the connector's pacer keeps the exact per-call limit."""
    requests, period = rate_limit if rate_limit else (None, 1.0)
    return QueueSettings(
        "", worker_concurrency=concurrency, rate_limit=requests, period_seconds=period, partition_concurrency=1
    )


@dataclass
class FlowSettings:
    """What the flows read, flat: the settings file's ``[defaults]``, each flow's own keys, and (for one flow, see
    ``EngineSettings.for_flow``) that flow's overrides. Built from the file by ``from_settings``; a field added here
    is settable from the file at once (in ``[defaults]`` or a flow's section, with this field's type)."""

    create_missing_products: bool = True  # else an invoice line for a product the books lack is a failed record
    payment_terms_days: int = 30
    default_currency: str = "GBP"
    default_tax_rate: str = "20"
    default_nominal_code: int = 4000
    # First match wins, by the customer's billing country and the product's family (mapping transform tax_rate).
    tax_rules: tuple[dict[str, Any], ...] = ()
    # Two-way sync of customers and products (flows/customer_sync, product_sync, reconciliation):
    delete_policy: str = "archive"  # a record deleted on one side: "archive" it on the other, or "ignore"
    source_priority: tuple[str, ...] = ()  # after field ownership, the first system named wins; none: last writer
    # Golden-record matching of new customers (flows/sync/golden): a match probability (0-1) at or above the link
    # threshold links the two, at or above the review threshold queues the pair for a person, below makes a new one.
    match_link_threshold: float = 0.9
    match_review_threshold: float = 0.5
    # What linking a duplicate writes, per direction: "merge" (fill gaps both ways, differences by the conflict
    # rules), "update" (the incoming record's values win) or "skip" (link only, write nothing).
    duplicate_policy_salesforce_to_books: str = "merge"
    duplicate_policy_books_to_salesforce: str = "merge"
    # Describe both systems before polling and alert when a field a mapping uses is gone, retyped or now required.
    schema_drift_check: bool = True
    sync_page_size: int = 200  # records per workflow step (and per sObject Collections call)
    reconcile_schedule: str = "0 2 * * *"  # cron, UTC: the nightly reconciliation
    # Each flow's switch ([flows.<name>] enabled), by flow name; a flow not named is on.
    enabled_flows: dict[str, bool] = field(default_factory=dict)
    # Each flow's schedule ([flows.<name>] schedule): a cron (UTC) or an interval, by flow name.
    schedules: dict[str, Schedule] = field(default_factory=dict)
    # Invoice activated Orders too (flows/order_to_invoice). Off: most projects invoice from Opportunities, and a
    # deal that is both a won Opportunity and an activated Order would be invoiced twice with both on.
    order_to_invoice: bool = False
    # Back to Salesforce (each flow's trigger does nothing while its switch is off):
    payment_sync: bool = True  # payments in the books → the Opportunity's paid fields and a Payment__c each
    invoice_pdf: bool = True  # the invoice's PDF attached to its Opportunity as a file, once
    invoice_pdf_source: str = "books"  # "books" (rendered by LedgerLink only when the books have none) | "render"
    late_payment: bool = True  # a Case on the Account when an invoice is overdue; closed when it is paid
    late_payment_days: int = 14  # days past the due date before the Case opens
    late_payment_case_priority: str = "High"
    # The invoice's life after it is made (flows/payment_to_books, invoice_changes, invoice_history, account_balances):
    payment_to_books: bool = True  # a Payment__c entered in Salesforce (no books id) → recorded in the books, once
    # A won deal's amount or lines change after its invoice was made:
    #   "update_or_credit": edit the invoice while nothing is paid and the books allow it, else credit the difference
    #   "credit_difference": always a credit note for the difference (an increase: a new invoice for it)
    #   "credit_and_reissue": credit the whole invoice and make a new one for the deal as it is now
    invoice_change_policy: str = "update_or_credit"
    # A deal moved out of Closed Won: "void_or_credit" (void an unpaid invoice, credit a paid one) or "credit"
    reopen_policy: str = "void_or_credit"
    # A credit note leaves the customer in credit on a paid invoice: "keep_credit" (the credit stays with the
    # customer in the books, for a person to refund or use) or "refund" (LedgerLink records the refund: flows/refunds)
    refund_policy: str = "keep_credit"
    # A deal won again after its invoice was voided or credited: "new_invoice" (a new invoice for the deal as it
    # now stands, written back) or "fail" (a failed record: a person decides, then replays it)
    rewon_policy: str = "new_invoice"
    invoice_changes: bool = True  # the two policies above, applied as deals change
    invoice_history: bool = True  # the books' invoices (all, also those LedgerLink didn't make) → Invoice__c
    account_balances: bool = True  # balance, overdue and aging buckets on each Account, from the books

    def is_enabled(self, flow: str) -> bool:
        return self.enabled_flows.get(flow, True)


# FlowSettings fields the file sets another way (switches and schedules come from each flow's section).
_DERIVED = frozenset({"enabled_flows", "schedules", "reconcile_schedule"})
# The old per-flow switches, kept as fields because flows read them: each follows its flow's ``enabled``.
_SWITCHES = ("order_to_invoice", "payment_sync", "invoice_pdf", "late_payment")


def settings_fields() -> dict[str, Any]:
    """FlowSettings' fields (name → type) the settings file may set beyond its own tree (see settings.model)."""
    hints = get_type_hints(FlowSettings)
    return {name: hints[name] for name in hints if name not in _DERIVED and name not in _SWITCHES}


def load_app_settings(path: Path | None = None, *, required: bool = False) -> LedgerLinkSettings:
    """The settings file in force (``settings.settings_path``), validated against the flows registered now."""
    return load_settings(path, extra_fields=settings_fields(), extra_flows=list(registered_flows()), required=required)


def _flat(values: dict[str, Any]) -> dict[str, Any]:
    """Settings-file values as FlowSettings holds them."""
    known = set(get_type_hints(FlowSettings))
    out: dict[str, Any] = {k: v for k, v in values.items() if k in known}
    if "tax_rules" in values:
        out["tax_rules"] = tuple(
            rule.as_mapping_rule() if isinstance(rule, TaxRule) else dict(rule) for rule in values["tax_rules"]
        )
    if "default_tax_rate" in values:
        out["default_tax_rate"] = str(values["default_tax_rate"])
    if "source_priority" in values:
        out["source_priority"] = tuple(values["source_priority"])
    return out


def flow_settings_from(app: LedgerLinkSettings, flow: str | None = None) -> FlowSettings:
    """The flat FlowSettings the file gives (for ``flow``: with that flow's overrides)."""
    kwargs = _flat(app.resolved(flow))
    sections = app.flows.sections()
    kwargs["enabled_flows"] = {name: section.enabled for name, section in sections.items()}
    kwargs["schedules"] = {name: section.schedule for name, section in sections.items() if section.schedule}
    for switch in _SWITCHES:
        if switch in sections:
            kwargs[switch] = sections[switch].enabled
    reconcile = sections["reconciliation"].schedule
    if reconcile is not None and reconcile.cron:
        kwargs["reconcile_schedule"] = reconcile.cron
    return FlowSettings(**kwargs)


@dataclass
class EngineSettings:
    data_dir: Path
    ledger_url: str
    system_database_url: str
    executor_id: str | None = None
    # DBOS recovers a workflow by replaying its steps in order, so a release that changes a workflow's steps bumps
    # this: its workers leave the older version's pending runs to workers of that version (drain them first).
    # 2: the invoice flow's books steps are one step, the PDF flow's one step; queues per connection.
    # 3: invoice and PDF runs carry a batch of records, keyed by shard.
    # 4: an invoice run's read, books and write-back are one step.
    # 5: the polling triggers start batch runs, by shard (and read their window and batch size in one step).
    # 6: invoice PDF runs go to the CRM connection's background lane, not its record queue.
    app_version: str = "ledgerlink-6"
    queues: list[QueueSettings] = field(default_factory=lambda: [triggers_queue()])
    # By role (CRM, ACCOUNTING); bootstrap.open_runtime fills them from each connection's spec.
    connection_queues: dict[str, QueueSettings] = field(
        default_factory=lambda: {role: connection_queue() for role in CONNECTION_ROLES}
    )
    poll_lag_seconds: float = 0.0
    # Runs a polling trigger (a backfill) keeps unfinished at once: change events wait behind at most these.
    backfill_window: int = 32
    # Records per run a polling trigger starts (all of one shard): bigger batches write fewer checkpoints; a change
    # event in the same shard waits for the batch running there, so not too big.
    backfill_batch: int = 50
    # Runs the change-event trigger keeps unfinished per shard at once: more changes wait in the dispatcher and go
    # in the shard's next run. 1 (issue 22): a change that comes while a run is running goes in the very next run;
    # with 2, a run already queued behind it (often of a single change) made later ones wait a whole extra run
    # (CDC at 50/s: p50 0.49-0.57 s against 1.2 s with 2, benchmarks/README.md event_latency).
    event_window: int = 1
    # Record runs of one flow go to this many partitions of its queue, by a hash of the record id: at most one run
    # per shard at a time across all workers (so two runs for one record never overlap), and a run may carry many
    # records of its shard. More shards let more workers share a flow. Change it only with the queues drained: a
    # record's waiting runs keep the shard they were enqueued with.
    record_shards: int = 8
    # Runs of each connection's background lane (invoice PDFs) a worker runs at once (capped by the connection
    # queue's own concurrency). The lanes yield to the record queues (``queue_wake.YieldingStop``): while the
    # worker's record runs are going or waiting, a lane starts nothing until its oldest run has waited
    # ``background_yield_seconds``, then ``background_while_busy`` at once. At 50 deals a second the PDF runs beside
    # the invoice runs had doubled the write-back's latency (p50 0.30 against 0.14 s, p99 0.62-0.70 against
    # 0.35-0.39 s); with the lanes yielding, their slots are used only when the invoices pause (eight caught up on
    # 3,000 PDFs in ~53 s where four took ~90, before a PDF run took its shard's waiting PDFs too: now ~5 s;
    # benchmarks/README.md, event_latency round 6).
    background_concurrency: int = 8
    background_yield_seconds: float = 120.0
    background_while_busy: int = 1
    worker_concurrency: int | None = None  # overrides every queue's and connection's own, when set
    flows: FlowSettings = field(default_factory=FlowSettings)
    # The settings file the flows' settings came from (None: built in code, as tests do): a flow's own overrides
    # are read from it (``for_flow``), and the console edits it.
    app: LedgerLinkSettings | None = None
    settings_file: Path | None = None

    def for_flow(self, flow: str | None) -> FlowSettings:
        """The flows' settings as ``flow`` sees them: its own section's overrides over ``self.flows``."""
        if flow is None or self.app is None or flow not in self.app.flows.sections():
            return self.flows
        overrides = self.app.flow(flow).overrides()
        return replace(self.flows, **_flat(overrides)) if overrides else self.flows


def system_database_url(ledger_url: str, data_dir: Path) -> str:
    """DBOS's own tables: a SQLite file beside the ledger, or the same PostgreSQL database (schema ``dbos``)."""
    if is_sqlite(ledger_url):
        return f"sqlite:///{(data_dir / 'dbos.sqlite').resolve()}"
    return ledger_url


@dataclass
class Runtime:
    settings: EngineSettings
    ledger: Ledger
    crm: Any  # the CRM's client (the flows are written for it)
    books: AccountingSystem
    crm_name: str  # the CRM's system name: its record queue is named after it
    launched: bool = False
    queues: dict[str, Queue] = field(default_factory=dict)
    # This process hears its runs finish (engine.queue_wake installed): what waits for them need not poll.
    hears_finishes: bool = False

    def queue_name(self, role: str, lane: str | None = None) -> str:
        """The record queue of the connection in ``role`` (named after its system), or that queue's ``lane``."""
        if role == CRM:
            return f"{self.crm_name}-{lane}" if lane else self.crm_name
        if role == ACCOUNTING:
            return f"{self.books.name}-{lane}" if lane else self.books.name
        raise ValueError(f"no connection role {role!r}; roles: {', '.join(CONNECTION_ROLES)}")

    def close(self) -> None:
        self.crm.close()
        self.books.close()
        self.ledger.dispose()


_current: Runtime | None = None


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("the LedgerLink runtime is not started (engine.runtime.start)")
    return _current


def sqlite_system_engine(url: str) -> sa.Engine:
    """DBOS's SQLite system database in WAL mode: DBOS itself opens it with a rollback journal and an fsync per
    commit, which caps a machine at a few dozen steps a second. WAL with ``synchronous=NORMAL`` keeps every
    commit across a crash of the process (SIGKILL included); only an OS crash or power loss may lose the last
    commits. ``LEDGERLINK_SQLITE_SYNCHRONOUS=FULL`` buys that back at DBOS's own speed."""
    synchronous = os.environ.get("LEDGERLINK_SQLITE_SYNCHRONOUS", "NORMAL").upper()
    if synchronous not in ("NORMAL", "FULL"):
        raise ValueError("LEDGERLINK_SQLITE_SYNCHRONOUS must be NORMAL or FULL")
    engine = sa.create_engine(url, connect_args={"check_same_thread": False}, pool_size=20, max_overflow=20)

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # As DBOS configures its own SQLite engine (IMMEDIATE transactions serialise writers), plus WAL.
        dbapi_connection.isolation_level = "IMMEDIATE"
        dbapi_connection.execute("PRAGMA busy_timeout=30000")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute(f"PRAGMA synchronous={synchronous}")

    return serialise_in_process(engine)


def start(runtime: Runtime) -> Runtime:
    """Make ``runtime`` current and launch DBOS with its queues. One runtime per process."""
    global _current
    if not registered_flows():
        raise RuntimeError("no flow is registered: import the flows (ledgerlink.flows.load_flows) before start")
    _current = runtime
    settings = runtime.settings
    config: DBOSConfig = {
        "name": "ledgerlink",
        "system_database_url": settings.system_database_url,
        "log_level": os.environ.get("LEDGERLINK_DBOS_LOG_LEVEL", "WARNING"),
        "application_version": settings.app_version,
        "notification_listener_polling_interval_sec": 0.05,
        # DBOS's PostgreSQL notifier thread wakes this often to push LISTEN/NOTIFY for events and streams (default
        # 10 ms: 100 wake-ups a second, ~0.006 CPU-s/s, a tenth of an idle worker's CPU). LedgerLink uses neither.
        "notification_coalesce_sec": 0.5,
    }
    if settings.executor_id:
        config["executor_id"] = settings.executor_id
    if is_sqlite(settings.system_database_url):
        config["system_database_engine"] = sqlite_system_engine(settings.system_database_url)
    DBOS(config=config)
    woken = queue_wake.enabled() and queue_wake.install()
    DBOS.launch()
    connection_queues = [replace(q, name=runtime.queue_name(role)) for role, q in settings.connection_queues.items()]
    lanes = [
        replace(
            q,
            name=runtime.queue_name(role, BACKGROUND),
            worker_concurrency=max(1, min(settings.background_concurrency, q.worker_concurrency)),
        )
        for role, q in settings.connection_queues.items()
    ]
    for queue in [*settings.queues, *connection_queues, *lanes]:
        limiter = {"limit": queue.rate_limit, "period": queue.period_seconds} if queue.rate_limit else None
        runtime.queues[queue.name] = DBOS.register_queue(
            queue.name,
            worker_concurrency=queue.worker_concurrency,
            limiter=limiter,  # type: ignore[arg-type]
            partition_concurrency=queue.partition_concurrency,
            polling_interval_sec=queue.poll_seconds if woken else min(queue.poll_seconds, UNWOKEN_QUEUE_POLL_SECONDS),
            on_conflict="always_update",
        )
    if woken:
        queue_wake.serve(
            runtime.queues,
            records={queue.name for queue in connection_queues},
            lanes={lane.name for lane in lanes},
            while_busy=settings.background_while_busy,
            yield_seconds=settings.background_yield_seconds,
        )
    runtime.hears_finishes = woken
    runtime.launched = True
    return runtime


RESULT_POLL_SECONDS = 0.05  # DBOS polls for a workflow's result once a second unless told otherwise


def wait_for(handle: WorkflowHandle[R]) -> R:
    """A workflow's result, noticed within 50 ms of it finishing."""
    return handle.get_result(polling_interval_sec=RESULT_POLL_SECONDS)


def enqueue_record(
    workflow: Callable[..., R],
    *args: Any,
    workflow_id: str,
    record_key: str,
    connection: str,
    priority: int = REALTIME_PRIORITY,
    lane: str | None = None,
) -> WorkflowHandle[R]:
    """Enqueue one run for one source record on the queue of the ``connection`` (role) it writes to, or on that
    connection's ``lane``. The id makes it idempotent (the same id is the same run); the record key serialises runs
    for the same record across all workers (runs that must not overlap share a key, a connection and a lane)."""
    rt = current()
    queue = rt.queues[rt.queue_name(connection, lane)]
    with SetWorkflowID(workflow_id), SetEnqueueOptions(queue_partition_key=record_key, priority=priority):
        handle = queue.enqueue(workflow, *args)
    queue_wake.enqueued(queue.name, workflow_id, record_key)  # committed: look now, not at the timer
    return handle


def shard_of(record_id: str, shards: int) -> int:
    """A record's shard: stable across processes and releases (Python's own hash of a str is not)."""
    return zlib.crc32(record_id.encode()) % max(1, shards)


def shard_key(flow: str, record_id: str) -> str:
    """The partition key of ``flow``'s runs for ``record_id`` (see ``EngineSettings.record_shards``)."""
    return f"{flow}#{shard_of(record_id, current().settings.record_shards)}"


def enqueue_batch(
    workflow: Callable[..., R],
    flow: str,
    record_ids: list[str],
    *,
    workflow_id: str,
    connection: str,
    priority: int = REALTIME_PRIORITY,
    lane: str | None = None,
) -> WorkflowHandle[R]:
    """Enqueue one run for a batch of records of one shard of ``flow`` (``shard_key`` alike for each): the shard is
    its partition, so it never overlaps another run for any of its records."""
    keys = {shard_key(flow, record_id) for record_id in record_ids}
    if len(keys) != 1:
        raise ValueError(f"a batch's records must share one shard, not {sorted(keys)}")
    return enqueue_record(
        workflow,
        record_ids,
        workflow_id=workflow_id,
        record_key=keys.pop(),
        connection=connection,
        priority=priority,
        lane=lane,
    )


def enqueue_trigger(flow: str, trigger: Callable[[float], Any], workflow_id: str, lag_seconds: float) -> bool:
    """Enqueue a flow's polling trigger unless one is already waiting or running (DBOS deduplicates by flow on
    the triggers queue; the busy one will read the same changes). True when this call enqueued it, or another
    worker this very slot (same workflow id)."""
    queue = current().queues[TRIGGERS_QUEUE]
    try:
        with SetWorkflowID(workflow_id), SetEnqueueOptions(deduplication_id=flow):
            queue.enqueue(trigger, lag_seconds)
    except DBOSQueueDeduplicatedError:
        return False
    queue_wake.poke(queue.name)
    return True


def stop(wait_seconds: int = 5) -> None:
    """Shut DBOS down (workflows stay registered, so a later ``start`` in the same process works)."""
    global _current
    if _current is not None and _current.launched:
        DBOS.destroy(destroy_registry=False, workflow_completion_timeout_sec=wait_seconds)
        _current.close()
    _current = None
