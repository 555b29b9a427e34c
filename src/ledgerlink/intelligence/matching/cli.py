"""``ledgerlink match customers LEFT.jsonl RIGHT.jsonl [--out links.jsonl]``: link two customer files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ledgerlink.intelligence.matching.io import CustomerFileError, read_customers
from ledgerlink.intelligence.matching.matcher import MatchSettings, link
from ledgerlink.intelligence.matching.normalize import to_match_record
from ledgerlink.intelligence.matching.policy import Thresholds

match_app = typer.Typer(help="Golden records: find the same customer in two systems.", no_args_is_help=True)


@match_app.command("customers")
def customers_command(
    left: Annotated[Path, typer.Argument(help="JSON Lines: one canonical Customer a line, with an 'id'.")],
    right: Annotated[Path, typer.Argument(help="The other system's customers, the same format.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the links here instead of standard output.")] = None,
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Link at or above this match probability.")
    ] = Thresholds().link,
    review: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Count pairs at or above this (below --threshold) as 'review'.")
    ] = Thresholds().review,
) -> None:
    """Link each left customer to at most one right customer; one JSON line per link:
    {"left": id, "right": id, "score": probability}."""
    try:
        thresholds = Thresholds(link=threshold, review=min(review, threshold))
        left_records = [to_match_record(r.id, r.customer) for r in read_customers(left)]
        right_records = [to_match_record(r.id, r.customer) for r in read_customers(right)]
    except (CustomerFileError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    run = link(left_records, right_records, MatchSettings(thresholds=thresholds))
    linked = [s for s in run.scored if s.probability >= thresholds.link]
    lines = (
        json.dumps(
            {"left": left_records[s.left].id, "right": right_records[s.right].id, "score": round(s.probability, 6)}
        )
        for s in linked
    )
    if out is None:
        for line in lines:
            sys.stdout.write(line + "\n")
    else:
        try:
            with out.open("w", encoding="utf-8") as handle:
                handle.writelines(line + "\n" for line in lines)
        except OSError as exc:
            typer.echo(f"error: cannot write {out}: {exc.strerror or exc}", err=True)
            raise typer.Exit(code=2) from exc
    reviews = sum(1 for s in run.scored if thresholds.review <= s.probability < thresholds.link)
    typer.echo(
        f"{len(left_records)} left, {len(right_records)} right: {len(linked)} linked, {reviews} to review "
        f"({run.candidate_pairs} candidate pairs compared)",
        err=True,
    )
