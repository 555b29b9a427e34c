"""Flow definitions in the ledger: every saved version kept, one of them published per name (migration 0005).

Versions are never rewritten: publishing marks one version as the one that runs; rolling back publishes an
earlier one. Publishing checks the definition again, and refuses one that would trigger itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column

from ledgerlink.flows.defined.cycles import cycle_message, find_cycle
from ledgerlink.flows.defined.model import Definition, DefinitionError, parse
from ledgerlink.store import Ledger
from ledgerlink.store.tables import Base, utcnow

MAX_VERSIONS = 500  # per name: a runaway script saving in a loop stops here


class FlowDefinitionRow(Base):
    __tablename__ = "ll_flow_definition"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_flow_definition_version"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    yaml: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | published | retired
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class Version:
    name: str
    version: int
    yaml: str
    status: str
    created_by: str
    created_at: dt.datetime
    published_at: dt.datetime | None

    @property
    def definition(self) -> Definition:
        return parse(self.yaml)


def _version(row: FlowDefinitionRow) -> Version:
    return Version(row.name, row.version, row.yaml, row.status, row.created_by, row.created_at, row.published_at)


class Definitions:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def save(self, text: str, by: str = "") -> Version:
        """A new version of the definition the text describes (validated first; nothing is saved if it fails)."""
        definition = parse(text)
        with self.ledger.session() as s:
            latest = s.scalar(
                select(func.max(FlowDefinitionRow.version)).where(FlowDefinitionRow.name == definition.name)
            )
            if (latest or 0) >= MAX_VERSIONS:
                raise DefinitionError(
                    [f"{definition.name}: at most {MAX_VERSIONS} versions are kept; save it under a new name"]
                )
            row = FlowDefinitionRow(name=definition.name, version=(latest or 0) + 1, yaml=text, created_by=by[:64])
            s.add(row)
            s.flush()
            return _version(row)

    def get(self, name: str, version: int | None = None) -> Version | None:
        with self.ledger.session() as s:
            query = select(FlowDefinitionRow).where(FlowDefinitionRow.name == name)
            query = query.where(FlowDefinitionRow.version == version) if version else query
            row = s.scalars(query.order_by(FlowDefinitionRow.version.desc()).limit(1)).first()
            return _version(row) if row else None

    def versions(self, name: str) -> list[Version]:
        with self.ledger.session() as s:
            rows = s.scalars(
                select(FlowDefinitionRow).where(FlowDefinitionRow.name == name).order_by(FlowDefinitionRow.version)
            )
            return [_version(r) for r in rows]

    def names(self) -> list[str]:
        with self.ledger.session() as s:
            return list(s.scalars(select(FlowDefinitionRow.name).distinct().order_by(FlowDefinitionRow.name)))

    def published(self) -> list[Version]:
        with self.ledger.session() as s:
            rows = s.scalars(
                select(FlowDefinitionRow)
                .where(FlowDefinitionRow.status == "published")
                .order_by(FlowDefinitionRow.name)
            )
            return [_version(r) for r in rows]

    def published_version(self, name: str) -> Version | None:
        return next((v for v in self.published() if v.name == name), None)

    def publish(self, name: str, version: int) -> Version:
        """Make ``version`` the one that runs (an earlier one: a roll-back). Refused, naming the cycle, when its
        actions would trigger itself, directly or through other published definitions."""
        chosen = self.get(name, version)
        if chosen is None or chosen.version != version:
            raise DefinitionError([f"{name}: no version {version}"])
        definition = chosen.definition
        others = [v.definition for v in self.published() if v.name != name]
        cycle = find_cycle(definition, others)
        if cycle:
            raise DefinitionError([cycle_message(definition, cycle)])
        with self.ledger.session() as s:
            for row in s.scalars(
                select(FlowDefinitionRow).where(FlowDefinitionRow.name == name, FlowDefinitionRow.status == "published")
            ):
                row.status = "retired"
            row = s.scalars(
                select(FlowDefinitionRow).where(FlowDefinitionRow.name == name, FlowDefinitionRow.version == version)
            ).one()
            row.status, row.published_at = "published", utcnow()
            s.flush()
            return _version(row)

    def unpublish(self, name: str) -> None:
        with self.ledger.session() as s:
            for row in s.scalars(
                select(FlowDefinitionRow).where(FlowDefinitionRow.name == name, FlowDefinitionRow.status == "published")
            ):
                row.status = "retired"
