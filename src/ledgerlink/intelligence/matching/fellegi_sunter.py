"""The Fellegi–Sunter model, estimated without labels the way splink does it.

- ``u`` (how often two *different* customers agree at each level) from a random sample of pairs;
- ``m`` (how often the *same* customer agrees at each level) by expectation–maximisation over the blocked pairs, one
  session per blocking rule with the comparisons that rule implies left out (pairs that share a postcode by
  construction say nothing about how often true matches share one). Unlike splink, each session also frees ``u``:
  non-matches that share a postcode also share a town far more often than random pairs do, and a fixed ``u`` would
  read that as evidence of a match;
- the prior (the probability that two random records match) so that the expected number of matches among the
  candidate pairs is consistent with it.

EM runs on the counts of distinct comparison vectors (a few hundred), not on the pairs, so it costs nothing.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ledgerlink.intelligence.matching.compare import COMPARISON_NAMES, LEVEL_COUNTS, MISSING

Vector = tuple[int, ...]
_FLOOR = 1e-6  # no level is ever impossible: one odd record must not zero a whole product


@dataclass
class FellegiSunterModel:
    m: list[list[float]]  # per comparison, per level: P(level | same customer)
    u: list[list[float]]  # per comparison, per level: P(level | different customers)
    prior: float  # probability that two records picked at random are the same customer

    def bayes_factor(self, vector: Vector) -> float:
        factor = 1.0
        for k, level in enumerate(vector):
            if level != MISSING:
                factor *= self.m[k][level] / self.u[k][level]
        return factor

    def probability(self, vector: Vector, prior: float | None = None) -> float:
        """P(same customer | comparison vector); ``prior`` overrides the model's (e.g. 1/pool size)."""
        p = self.prior if prior is None else prior
        odds = p / (1 - p) * self.bayes_factor(vector)
        return odds / (1 + odds) if math.isfinite(odds) else 1.0

    def match_weight(self, vector: Vector) -> float:
        return math.log2(self.prior / (1 - self.prior)) + math.log2(self.bayes_factor(vector))

    def to_dict(self) -> dict[str, object]:
        return {
            "prior": self.prior,
            "comparisons": {name: {"m": self.m[k], "u": self.u[k]} for k, name in enumerate(COMPARISON_NAMES)},
        }


def _normalise(counts: Sequence[float]) -> list[float]:
    total = sum(counts)
    if total <= 0:
        return [1.0 / len(counts)] * len(counts)
    return [max(c / total, _FLOOR) for c in counts]


def estimate_u(vectors: Iterable[Vector]) -> list[list[float]]:
    """Level frequencies among random pairs (nearly all of which are different customers)."""
    counts = [[0.5] * n for n in LEVEL_COUNTS]  # a half count each: a level never seen is rare, not impossible
    for vector in vectors:
        for k, level in enumerate(vector):
            if level != MISSING:
                counts[k][level] += 1
    return [_normalise(c) for c in counts]


def random_vectors(
    compare: Callable[[int, int], Vector], n_left: int, n_right: int, samples: int, *, dedupe: bool, seed: int = 7
) -> list[Vector]:
    rng = random.Random(seed)
    vectors = []
    for _ in range(samples):
        i, j = rng.randrange(n_left), rng.randrange(n_right)
        if dedupe and i == j:
            continue
        vectors.append(compare(i, j))
    return vectors


def initial_m() -> list[list[float]]:
    """A prior guess that EM starts from, and what a comparison keeps when no session could estimate it:
    the same customer mostly agrees exactly, sometimes nearly, rarely not at all."""
    m = []
    for n in LEVEL_COUNTS:
        weights = [0.05] + [0.1] * (n - 2) + [0.85]
        m.append(_normalise(weights))
    return m


def em(
    patterns: Counter[Vector],
    active: Sequence[int],
    m: list[list[float]],
    u: list[list[float]],
    share: float = 0.1,
    iterations: int = 40,
) -> tuple[list[list[float]], list[list[float]], float]:
    """Two-class EM over distinct vectors, on the comparisons in ``active`` only; returns new m, u and the share of
    matches. m and u are both free: the pairs are a blocked sample, not a random one."""
    m = [list(row) for row in m]
    u = [list(row) for row in u]
    items = list(patterns.items())
    for _ in range(iterations):
        m_counts = [[0.0] * n for n in LEVEL_COUNTS]
        u_counts = [[0.0] * n for n in LEVEL_COUNTS]
        matched = 0.0
        total = 0.0
        for vector, count in items:
            a, b = share, 1 - share
            for k in active:
                level = vector[k]
                if level != MISSING:
                    a *= m[k][level]
                    b *= u[k][level]
            w = a / (a + b) if a + b > 0 else 0.0
            matched += w * count
            total += count
            for k in active:
                level = vector[k]
                if level != MISSING:
                    m_counts[k][level] += w * count
                    u_counts[k][level] += (1 - w) * count
        new_share = min(max(matched / total, 1e-6), 1 - 1e-6) if total else share
        for k in active:
            if sum(m_counts[k]) > 0:
                m[k] = _normalise(m_counts[k])
            if sum(u_counts[k]) > 0:
                u[k] = _normalise(u_counts[k])
        converged = abs(new_share - share) < 1e-7
        share = new_share
        if converged:
            break
    return m, u, share


def estimate_prior(
    pattern_counts: Counter[Vector], m: list[list[float]], u: list[list[float]], total_pairs: int
) -> float:
    """The prior for which the expected number of matches among the candidate pairs, each weighed by its posterior,
    equals prior × all pairs (blocking only removes pairs that are almost surely different customers)."""
    model = FellegiSunterModel(m, u, prior=1.0 / max(total_pairs, 2))
    factors = [(model.bayes_factor(v), c) for v, c in pattern_counts.items()]
    prior = model.prior
    for _ in range(100):
        odds = prior / (1 - prior)
        expected = sum(c * (odds * f) / (1 + odds * f) for f, c in factors)
        new_prior = min(max(expected / max(total_pairs, 1), 1e-12), 0.5)
        if abs(new_prior - prior) <= 1e-9 * prior:
            prior = new_prior
            break
        prior = new_prior
    return prior
