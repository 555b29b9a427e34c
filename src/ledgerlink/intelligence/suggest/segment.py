"""Run-together words split into words: ``emailaddress`` → email address, ``stateorprovince`` → state or province,
``createdon`` → created on. Some systems name fields without separators (Dataverse's logical names); the lexicon
then sees one unknown word where it knows each part.

The split is the most probable sequence of known words (Viterbi over unigram costs). The words known are learned
from the training schemas (``learn``: every word of their labels, which are prose, and the name words that at least
two systems use, so that one system's own run-together names do not become words), plus the English function words
below, and ship in ``weights.json`` with the model. At run time the words of the two schemas' own labels are known
too (``with_labels``): a schema that names a field ``relationship`` usually says "relationship" in some label, so a
real word the training schemas never used is not cut into "relation ship". A word that is known is never split,
and a word that cannot be split wholly into known words is kept as it is. Two-letter pieces are only the function
words and the name words that many systems use ("id"): short fragments of labels ("st", "pa") are not words.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

# English closed-class words: what glues the parts of a run-together name ("state or province", "price per unit").
_FUNCTION_WORDS = """
    a an the and or nor but of to in on at by for from with without within into onto over under per as is are was
    were be been being has have had do does did not no it its this that these those which who what when where how
    all any each every some other than then there here if up down out off via about after before between during
    through until upon against among
"""
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())
MIN_SYSTEMS = 2  # a name word is known when this many systems use it
MIN_SYSTEMS_SHORT = 3  # a two-letter name word, when this many do
MIN_LENGTH = 4  # shorter words are never split
_LONGEST = 24  # no known word is longer than this
MAX_KEPT = 65_536  # entries a vocabulary remembers per table
T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Known words with their counts (how many fields of the training schemas use each). Hashed by identity."""

    counts: Mapping[str, int]
    _costs: dict[str, float] = field(init=False, repr=False)
    # What was read with this vocabulary (its splits, and ``tokens``' words of a name), by table: it lives and dies
    # with the vocabulary (a pair's ``with_labels`` copy is dropped after the pair), and each table is emptied when
    # full, so a long-running console holds no pair's words for ever.
    _memos: dict[str, dict[str, Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        total = sum(self.counts.values()) + len(FUNCTION_WORDS)
        costs = {w: math.log(total / (n + 1)) for w, n in self.counts.items() if len(w) <= _LONGEST}
        for word in FUNCTION_WORDS:
            costs.setdefault(word, math.log(total / 2))
        object.__setattr__(self, "_costs", costs)
        object.__setattr__(self, "_memos", {})

    def __contains__(self, word: object) -> bool:
        return word in self._costs

    def split(self, word: str) -> tuple[str, ...]:
        return self.remembered("split", word, lambda w: _split(w, self))

    def remembered(self, table: str, key: str, compute: Callable[[str], T]) -> T:
        """``compute(key)``, made once with this vocabulary (see ``_memos``)."""
        memo = self._memos.setdefault(table, {})
        if key not in memo:
            if len(memo) >= MAX_KEPT:
                memo.clear()
            memo[key] = compute(key)
        return memo[key]

    def cost(self, word: str) -> float:
        return self._costs[word]

    def with_labels(self, words: Iterable[str]) -> Vocabulary:
        """This vocabulary with a schema pair's own label words known too (once each)."""
        extra = Counter(w for w in set(words) if len(w) > 2 and w.isalpha())
        if not extra.keys() - self.counts.keys():
            return self
        return Vocabulary(Counter(self.counts) + extra)


def _split(word: str, vocabulary: Vocabulary) -> tuple[str, ...]:
    if len(word) < MIN_LENGTH or word in vocabulary or not word.isalpha():
        return (word,)
    n = len(word)
    best = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    for end in range(2, n + 1):
        for start in range(max(0, end - _LONGEST), end - 1):
            piece = word[start:end]
            if best[start] < math.inf and piece in vocabulary:
                cost = best[start] + vocabulary.cost(piece)
                if cost < best[end]:
                    best[end], back[end] = cost, start
    if best[n] == math.inf:
        return (word,)
    pieces: list[str] = []
    end = n
    while end:
        pieces.append(word[back[end] : end])
        end = back[end]
    return tuple(reversed(pieces))


def learn(schemas: Iterable[tuple[str, Iterable[str], Iterable[str]]]) -> dict[str, int]:
    """``schemas``: per schema its system, its field names' words and its labels' words (each field's words once).
    Returns the known words and their counts."""
    label_words: Counter[str] = Counter()
    name_words: Counter[str] = Counter()
    systems: dict[str, set[str]] = {}
    for system, names, labels in schemas:
        label_words.update(labels)
        for word in names:
            name_words[word] += 1
            systems.setdefault(word, set()).add(system)
    counts = Counter(
        {w: n for w, n in name_words.items() if len(systems[w]) >= (MIN_SYSTEMS_SHORT if len(w) == 2 else MIN_SYSTEMS)}
    )
    counts.update({w: n for w, n in label_words.items() if len(w) > 2})
    return {w: n for w, n in sorted(counts.items()) if w.isalpha() and len(w) >= 2}
