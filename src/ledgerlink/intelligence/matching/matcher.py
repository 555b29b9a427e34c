"""Train a Fellegi–Sunter model on the data at hand and link two sets of customers (or find duplicates in one)."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ledgerlink.intelligence.matching.blocking import (
    BLOCKING_RULES,
    BlockIndex,
    BlockingRule,
    CandidatePairs,
    dedupe_pairs,
    link_pairs,
)
from ledgerlink.intelligence.matching.compare import COMPARISON_NAMES, LEVEL_COUNTS, MISSING, compare
from ledgerlink.intelligence.matching.fellegi_sunter import (
    FellegiSunterModel,
    Vector,
    em,
    estimate_prior,
    estimate_u,
    initial_m,
    random_vectors,
)
from ledgerlink.intelligence.matching.normalize import MatchRecord
from ledgerlink.intelligence.matching.policy import Decision, Thresholds


@dataclass(frozen=True)
class ScoredPair:
    left: int  # index into the left records
    right: int  # index into the right records (the same list when deduplicating)
    probability: float
    decision: Decision


@dataclass
class ComparedPairs:
    pairs: CandidatePairs
    pattern_of_pair: array  # index into ``patterns``
    patterns: list[Vector]


@dataclass(frozen=True)
class MatchSettings:
    thresholds: Thresholds = field(default_factory=Thresholds)
    max_block: int = 200
    random_pairs: int = 100_000  # sampled to estimate u
    min_session_pairs: int = 30  # an EM session on fewer pairs than this is too noisy to use


def compare_pairs(left: Sequence[MatchRecord], right: Sequence[MatchRecord], pairs: CandidatePairs) -> ComparedPairs:
    ids: dict[Vector, int] = {}
    pattern_of_pair = array("i")
    for i, j in zip(pairs.left, pairs.right, strict=True):
        vector = compare(left[i], right[j])
        pid = ids.get(vector)
        if pid is None:
            pid = ids[vector] = len(ids)
        pattern_of_pair.append(pid)
    return ComparedPairs(pairs, pattern_of_pair, list(ids))


def train(
    left: Sequence[MatchRecord],
    right: Sequence[MatchRecord],
    compared: ComparedPairs,
    *,
    dedupe: bool,
    rules: Sequence[BlockingRule] = BLOCKING_RULES,
    settings: MatchSettings = MatchSettings(),
) -> FellegiSunterModel:
    u = estimate_u(
        random_vectors(
            lambda i, j: compare(left[i], right[j]), len(left), len(right), settings.random_pairs, dedupe=dedupe
        )
    )
    pattern_counts: Counter[Vector] = Counter()
    per_rule: list[Counter[Vector]] = [Counter() for _ in rules]
    for pid, mask in zip(compared.pattern_of_pair, compared.pairs.rules, strict=True):
        vector = compared.patterns[pid]
        pattern_counts[vector] += 1
        for bit, counter in enumerate(per_rule):
            if mask >> bit & 1:
                counter[vector] += 1
    present = {k for v in pattern_counts for k, level in enumerate(v) if level != MISSING}
    # Each comparison's m is the average of the sessions that estimated it, weighed by their expected matches.
    m_sum = [[0.0] * n for n in LEVEL_COUNTS]
    weight = [0.0] * len(LEVEL_COUNTS)
    for rule, counter in zip(rules, per_rule, strict=True):
        if sum(counter.values()) < settings.min_session_pairs:
            continue
        active = [k for k, name in enumerate(COMPARISON_NAMES) if name not in rule.covers and k in present]
        m, _, share = em(counter, active, initial_m(), u, share=0.3)
        matches = share * sum(counter.values())
        for k in active:
            weight[k] += matches
            for level, value in enumerate(m[k]):
                m_sum[k][level] += matches * value
    fallback = initial_m()
    m_final = [
        [value / weight[k] for value in m_sum[k]] if weight[k] > 0 else fallback[k] for k in range(len(LEVEL_COUNTS))
    ]
    total = len(left) * (len(left) - 1) // 2 if dedupe else len(left) * len(right)
    return FellegiSunterModel(m_final, u, estimate_prior(pattern_counts, m_final, u, total))


def score(
    compared: ComparedPairs, model: FellegiSunterModel, thresholds: Thresholds, minimum: float | None = None
) -> list[ScoredPair]:
    """Every candidate pair at or above ``minimum`` (the review threshold unless given), best first."""
    floor = thresholds.review if minimum is None else minimum
    probabilities = [model.probability(v) for v in compared.patterns]
    pairs = compared.pairs
    out = [
        ScoredPair(i, j, p, thresholds.decide(p))
        for i, j, pid in zip(pairs.left, pairs.right, compared.pattern_of_pair, strict=True)
        if (p := probabilities[pid]) >= floor
    ]
    out.sort(key=lambda s: (-s.probability, s.left, s.right))
    return out


def one_to_one(scored: Sequence[ScoredPair]) -> list[ScoredPair]:
    """Greedy, best first: each record links to at most one on the other side."""
    used_left: set[int] = set()
    used_right: set[int] = set()
    kept = []
    for pair in scored:
        if pair.left in used_left or pair.right in used_right:
            continue
        used_left.add(pair.left)
        used_right.add(pair.right)
        kept.append(pair)
    return kept


@dataclass
class MatchRun:
    model: FellegiSunterModel
    scored: list[ScoredPair]
    candidate_pairs: int


def link(
    left: Sequence[MatchRecord],
    right: Sequence[MatchRecord],
    settings: MatchSettings = MatchSettings(),
    *,
    unique: bool = True,
    minimum: float | None = None,
) -> MatchRun:
    """Link two sets; with ``unique`` each record links to at most one record of the other set."""
    pairs = link_pairs(left, BlockIndex(right, max_block=settings.max_block))
    compared = compare_pairs(left, right, pairs)
    model = train(left, right, compared, dedupe=False, settings=settings)
    scored = score(compared, model, settings.thresholds, minimum)
    return MatchRun(model, one_to_one(scored) if unique else scored, len(pairs))


def dedupe(
    records: Sequence[MatchRecord], settings: MatchSettings = MatchSettings(), *, minimum: float | None = None
) -> MatchRun:
    """Pairs of records within one set that are the same customer."""
    pairs = dedupe_pairs(records, BlockIndex(records, max_block=settings.max_block))
    compared = compare_pairs(records, records, pairs)
    model = train(records, records, compared, dedupe=True, settings=settings)
    return MatchRun(model, score(compared, model, settings.thresholds, minimum), len(pairs))
