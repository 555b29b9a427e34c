"""One customer against a pool: the best candidates with their probabilities, and what to do (link, review, new).

This is what a sync calls per incoming record: build a ``CustomerIndex`` over the other system's customers once,
``add`` to it as records are created, and ``query`` each incoming customer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ledgerlink.intelligence.matching.blocking import BlockIndex
from ledgerlink.intelligence.matching.compare import compare
from ledgerlink.intelligence.matching.defaults import default_model
from ledgerlink.intelligence.matching.fellegi_sunter import FellegiSunterModel, estimate_u, random_vectors
from ledgerlink.intelligence.matching.matcher import MatchSettings
from ledgerlink.intelligence.matching.normalize import MatchRecord, to_match_record
from ledgerlink.intelligence.matching.policy import Decision
from ledgerlink.model import Customer

_MIN_POOL_FOR_U = 1000  # below this a random sample of pairs says too little about the population


@dataclass(frozen=True)
class Candidate:
    id: str
    probability: float
    comparison: tuple[int, ...]  # the level per comparison, for a reviewer's "why"


@dataclass(frozen=True)
class MatchResult:
    candidates: list[Candidate]  # best first
    decision: Decision

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


class CustomerIndex:
    def __init__(
        self,
        pool: Iterable[tuple[str, Customer]],
        model: FellegiSunterModel | None = None,
        settings: MatchSettings = MatchSettings(),
    ) -> None:
        self.settings = settings
        self.records: list[MatchRecord] = [to_match_record(record_id, customer) for record_id, customer in pool]
        self.blocks = BlockIndex(self.records, max_block=settings.max_block)
        self.model = model or self._model_for_pool()

    def _model_for_pool(self) -> FellegiSunterModel:
        model = default_model()
        n = len(self.records)
        if n >= _MIN_POOL_FOR_U:
            sample = random_vectors(
                lambda i, j: compare(self.records[i], self.records[j]), n, n, self.settings.random_pairs, dedupe=True
            )
            model.u = estimate_u(sample)
        return model

    def __len__(self) -> int:
        return len(self.records)

    def add(self, record_id: str, customer: Customer) -> None:
        record = to_match_record(record_id, customer)
        self.blocks.add(len(self.records), record)
        self.records.append(record)

    def query(self, customer: Customer, limit: int = 3) -> MatchResult:
        """The ``limit`` best candidates above zero probability; the decision is the best one's.

        The prior is one over the pool's size: the incoming customer is, at most, one of the pool's records."""
        mine = to_match_record("", customer)
        prior = 1.0 / max(len(self.records), 2)
        scored = []
        for index in self.blocks.candidates(mine):
            vector = compare(mine, self.records[index])
            scored.append(Candidate(self.records[index].id, self.model.probability(vector, prior), vector))
        scored.sort(key=lambda c: (-c.probability, c.id))
        best = scored[:limit]
        decision = self.settings.thresholds.decide(best[0].probability if best else None)
        return MatchResult(best, decision)
