"""`ledgerlink intel …`: the review queue, findings (anomalies, schema drift), fixes for failed records, and an
offline anomaly check of an invoice file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ledgerlink.store import Ledger, database_url

intel_app = typer.Typer(help="Golden-record review, anomalies, schema drift and fixes.", no_args_is_help=True)
DataDir = Annotated[Path, typer.Option(help="where the ledger, DBOS database and vault key live")]
MAX_FILE_BYTES = 50 << 20


def _ledger(data_dir: Path) -> Ledger:
    return Ledger(database_url(data_dir))


@intel_app.command("reviews")
def reviews(
    status: Annotated[str, typer.Option(help="pending, approved, rejected or all")] = "pending",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = Path(".ledgerlink"),
) -> None:
    """Pairs golden-record matching was unsure of."""
    from ledgerlink.intelligence import review

    rows = review.find(_ledger(data_dir), status=None if status == "all" else status)
    for r in rows:
        if as_json:
            typer.echo(
                json.dumps({"id": r.id, "source": r.source, "target": r.target, "score": r.score, "status": r.status})
            )
        else:
            names = f"{r.source_record.get('name')!r} ~ {r.target_record.get('name')!r}"
            typer.echo(f"#{r.id} {r.status:8} {r.score:.2f} {'/'.join(r.source)} ↔ {'/'.join(r.target)}  {names}")


@intel_app.command("review")
def decide(
    review_id: int,
    decision: Annotated[str, typer.Argument(help="approve or reject")],
    by: Annotated[str, typer.Option(help="who decides (audited)")],
    data_dir: DataDir = Path(".ledgerlink"),
) -> None:
    """Approve (link) or reject (keep apart) one pair; the record syncs at its next run (or `failed replay`)."""
    from ledgerlink.intelligence import review

    if decision not in ("approve", "reject"):
        raise typer.BadParameter("approve or reject", param_hint="DECISION")
    try:
        done = review.decide(_ledger(data_dir), review_id, approve=decision == "approve", user=by)
    except review.ReviewError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"review #{done.id} {done.status} by {done.decided_by}")


@intel_app.command("findings")
def list_findings(
    kind: Annotated[str | None, typer.Option(help="anomaly or schema_drift")] = None,
    scan: Annotated[bool, typer.Option("--scan", help="scan the flows' volume and failure rate first")] = False,
    data_dir: DataDir = Path(".ledgerlink"),
) -> None:
    """Open findings, newest first."""
    from ledgerlink.intelligence import findings, flow_watch

    ledger = _ledger(data_dir)
    if scan:
        flow_watch.scan(ledger)
    for f in findings.find(ledger, kind=kind):
        typer.echo(f"#{f.id} {f.at:%Y-%m-%d %H:%M} {f.kind}/{f.rule}: {f.message}")


@intel_app.command("fixes")
def fixes(
    flow: Annotated[str | None, typer.Option(help="only this flow")] = None, data_dir: DataDir = Path(".ledgerlink")
) -> None:
    """The suggested fix of each open failed record (apply them in the console)."""
    from ledgerlink.web.services.fixes import suggest

    for row in _ledger(data_dir).failed_records(flow=flow):
        fix = suggest(row)
        typer.echo(
            f"#{row.id} {row.flow} {row.source_object} {row.source_id}: {fix.message if fix else 'no fix to suggest'}"
            f"{' [safe: one click in the console]' if fix and fix.safe else ''}"
        )


@intel_app.command("anomalies")
def anomalies_in_file(
    invoices: Annotated[Path, typer.Argument(help="JSON lines: {id, customer, issue_date, lines}")],
) -> None:
    """Check a file of invoices in order, offline; prints each anomaly with its explanation."""
    from ledgerlink.intelligence.anomalies import InvoiceWatch, invoice_seen

    if invoices.stat().st_size > MAX_FILE_BYTES:
        typer.echo(f"error: {invoices} is larger than {MAX_FILE_BYTES >> 20} MB", err=True)
        raise typer.Exit(2)
    watch, found = InvoiceWatch(), 0
    for n, line in enumerate(invoices.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            seen = invoice_seen(str(item["id"]), str(item["customer"]), item)
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            typer.echo(f"error: {invoices}:{n}: {type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(2) from None
        for a in watch.check(seen):
            found += 1
            typer.echo(f"{a.rule}: {a.message}")
    typer.echo(f"{found} anomalies")
