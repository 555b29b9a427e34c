"""Word associations learned from the training schema pairs: words that name the same thing in two systems but
that the hand-written lexicon does not join ("memo" and "reference", "balance" and "balancedue").

Learned by counting, over the training pairs' field pairs (``benchmarks/mapping_suggestions.py``): for a word
``a`` left over in one field and ``b`` in the other (the words they don't share), how often such a field pair is a
right one, smoothed: ``right / (seen + 2)``. Only pairs seen right at least twice are kept. Shipped in
``weights.json`` with the regression; the feature is the strongest association between the two fields' words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

MIN_RIGHT = 2
Words = frozenset[str]


def key(a: str, b: str) -> str:
    return f"{a}|{b}" if a <= b else f"{b}|{a}"


def leftovers(a: Words, b: Words) -> list[str]:
    """The keys of every (word only in a, word only in b)."""
    return [key(x, y) for x in a - b for y in b - a]


def counts(
    source: Sequence[Words], target: Sequence[Words], gold: Sequence[set[int]]
) -> tuple[Counter[str], Counter[str]]:
    """One schema pair's counts: how often each word pair is seen left over, and how often in a right pair."""
    seen: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for words, rights in zip(source, gold, strict=True):
        for j, theirs in enumerate(target):
            found = leftovers(words, theirs)
            seen.update(found)
            if j in rights:
                right.update(found)
    return seen, right


def table(seen: Counter[str], right: Counter[str]) -> dict[str, float]:
    return {k: round(n / (seen[k] + 2), 4) for k, n in sorted(right.items()) if n >= MIN_RIGHT}


def learn(pairs: Iterable[tuple[Sequence[Words], Sequence[Words], Sequence[set[int]]]]) -> dict[str, float]:
    """``pairs``: per schema pair, the source fields' words, the target fields' words, and per source field the
    indexes of its right targets."""
    seen: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for source, target, gold in pairs:
        pair_seen, pair_right = counts(source, target, gold)
        seen.update(pair_seen)
        right.update(pair_right)
    return table(seen, right)


def association(a: Words, b: Words, table: Mapping[str, float]) -> float:
    return max((table.get(k, 0.0) for k in leftovers(a, b)), default=0.0) if table else 0.0
