"""What a field holds, learned from the labelled schemas: each word's distribution over the answer key's concepts.

The lexicon and the learned word associations (``synonyms``) join words to words; a new vendor's names and labels
still use words that no other system pairs with the same field. But its words, name and label together, are mostly
words that *some* labelled field of another system used ("issued", "remit", "reference", "unit"). Counted over the
training schemas (``learn``), each word votes for the concepts of the fields that use it: ``P(concept | word)``,
smoothed, the rest of its mass on "none of them" (words of fields that hold no concept). A field's representation is
the vote of its words, each weighted by how rare it is across the training fields (an IDF: "the", "of", "billing"
say little); two fields fit as the cosine of their representations over the concepts, the "none" part counting in
the lengths only, so two fields that both look like no concept do not fit.

Learned by counting (``benchmarks/mapping_suggestions.py``, cross-fitted as the associations are) and shipped in
``weights.json`` as ``{word: [weight, {concept: p}]}``. Pure Python at run time: a sparse dot product per pair.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

SMOOTHING = 1.0  # pseudo-fields of "none" added to each word: a word seen once says little
MIN_FIELDS = 2  # a word is kept when this many training fields use it
MIN_SHARE = 0.02  # concept probabilities below this are dropped (they only make the table long)

Words = frozenset[str]
Table = Mapping[str, tuple[float, Mapping[str, float]]]  # word → (weight, {concept: P(concept | word)})
Vector = dict[str, float]


@dataclass
class Counts:
    """How many fields use each word, and how many of those hold each concept (a field with several concepts
    counts a share for each). Counts of different schemas add up."""

    fields: int
    words: Counter[str]
    concepts: dict[str, dict[str, float]]

    def __add__(self, other: Counts) -> Counts:
        concepts = {w: dict(c) for w, c in self.concepts.items()}
        for word, theirs in other.concepts.items():
            mine = concepts.setdefault(word, {})
            for concept, k in theirs.items():
                mine[concept] = mine.get(concept, 0.0) + k
        return Counts(self.fields + other.fields, self.words + other.words, concepts)


def count(fields: Sequence[Words], held: Sequence[Sequence[str]]) -> Counts:
    """One schema's counts: per field its words and the concepts it holds (none: an empty list)."""
    words: Counter[str] = Counter()
    concepts: dict[str, dict[str, float]] = {}
    for field_words, field_concepts in zip(fields, held, strict=True):
        words.update(field_words)
        for word in field_words:
            mine = concepts.setdefault(word, {})
            for concept in field_concepts:
                mine[concept] = mine.get(concept, 0.0) + 1 / len(field_concepts)
    return Counts(len(fields), words, concepts)


def learn(counts: Iterable[Counts]) -> dict[str, tuple[float, dict[str, float]]]:
    """The table from the summed counts of the training schemas."""
    total = sum(counts, Counts(0, Counter(), {}))
    out: dict[str, tuple[float, dict[str, float]]] = {}
    for word, n in sorted(total.words.items()):
        if n < MIN_FIELDS:
            continue
        shares = {
            concept: round(k / (n + SMOOTHING), 4)
            for concept, k in sorted(total.concepts.get(word, {}).items())
            if k / (n + SMOOTHING) >= MIN_SHARE
        }
        out[word] = (round(math.log((1 + total.fields) / (1 + n)), 4), shares)
    return out


def vector(words: Words, table: Table) -> tuple[Vector, float]:
    """A field's vote over the concepts (IDF-weighted mean of its known words' distributions) and the share left
    to "none"; empty when none of its words is known."""
    votes: Vector = {}
    weight = 0.0
    for word in words:
        known = table.get(word)
        if known is None or known[0] <= 0:
            continue
        w, shares = known
        weight += w
        for concept, p in shares.items():
            votes[concept] = votes.get(concept, 0.0) + w * p
    if not weight:
        return {}, 0.0
    votes = {c: v / weight for c, v in votes.items()}
    return votes, max(1.0 - sum(votes.values()), 0.0)


def fit(a: tuple[Vector, float], b: tuple[Vector, float]) -> float:
    """Cosine of two fields' votes over the concepts; "none" lengthens each vector but never agrees."""
    (va, ra), (vb, rb) = a, b
    if not va or not vb:
        return 0.0
    small, large = (va, vb) if len(va) <= len(vb) else (vb, va)
    dot = sum(p * large.get(c, 0.0) for c, p in small.items())
    if not dot:
        return 0.0
    na = math.sqrt(sum(p * p for p in va.values()) + ra * ra)
    nb = math.sqrt(sum(p * p for p in vb.values()) + rb * rb)
    return dot / (na * nb)
