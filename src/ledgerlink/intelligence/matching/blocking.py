"""Blocking: only pairs that share at least one key are compared, so 100k × 100k costs millions of comparisons, not
ten billion. Several keys (postcode, name, street, e-mail, phone, VAT) so that a typo in one field still leaves
another key to meet on; a key shared by more than ``max_block`` records says nothing and is skipped.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ledgerlink.intelligence.matching.normalize import MatchRecord


def name_prefix_key(record: MatchRecord) -> str:
    # Every word's first letters, sorted so that word order does not matter.
    return "|".join(sorted(token[:4] for token in record.name.split()))


def name_suffix_key(record: MatchRecord) -> str:
    # Every word's last letters: meets when a typo falls in the first letters, which the prefix key misses.
    return "|".join(sorted(token[-4:] for token in record.name.split()))


def street_key(record: MatchRecord) -> str:
    return f"{record.street_number} {record.street[:4]}" if record.street_number and record.street else ""


def street_city_key(record: MatchRecord) -> str:
    # Meets when the house number and the postcode both carry a typo.
    if not (record.street and record.city and record.name):
        return ""
    return f"{record.name[0]}|{record.street[:4]}|{record.city[:3]}"


def postcode_anagram_key(record: MatchRecord) -> str:
    # Transposed characters ("4214" for "4124") keep the same sorted letters.
    return "".join(sorted(record.postcode))


@dataclass(frozen=True)
class BlockingRule:
    name: str
    key: Callable[[MatchRecord], str]
    covers: tuple[str, ...]  # comparisons whose agreement the key implies (left out when this rule's pairs train)


BLOCKING_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("postcode", lambda r: r.postcode, ("postcode",)),
    BlockingRule("name_prefix", name_prefix_key, ("name",)),
    BlockingRule("name_suffix", name_suffix_key, ("name",)),
    BlockingRule("postcode_anagram", postcode_anagram_key, ("postcode",)),
    BlockingRule("street", street_key, ("street_number", "street")),
    BlockingRule("street_city", street_city_key, ("street", "city")),
    BlockingRule("email", lambda r: r.email, ("email",)),
    BlockingRule("phone", lambda r: r.phone, ("phone",)),
    BlockingRule("vat", lambda r: r.vat, ("vat",)),
)


@dataclass
class CandidatePairs:
    """Pairs to compare, as parallel arrays (compact at millions of pairs); ``rules`` is a bit mask of the rules
    that proposed each pair."""

    left: array = field(default_factory=lambda: array("i"))
    right: array = field(default_factory=lambda: array("i"))
    rules: array = field(default_factory=lambda: array("i"))

    def __len__(self) -> int:
        return len(self.left)


class BlockIndex:
    """Records grouped by each rule's key."""

    def __init__(
        self, records: Sequence[MatchRecord], rules: Sequence[BlockingRule] = BLOCKING_RULES, max_block: int = 200
    ) -> None:
        self.rules = tuple(rules)
        self.max_block = max_block
        self.blocks: list[dict[str, list[int]]] = [defaultdict(list) for _ in self.rules]
        for index, record in enumerate(records):
            self.add(index, record)

    def add(self, index: int, record: MatchRecord) -> None:
        for rule, blocks in zip(self.rules, self.blocks, strict=True):
            key = rule.key(record)
            if key:
                blocks[key].append(index)

    def candidates(self, record: MatchRecord) -> dict[int, int]:
        """Index → bit mask of the rules under which ``record`` meets it."""
        found: dict[int, int] = {}
        for bit, (rule, blocks) in enumerate(zip(self.rules, self.blocks, strict=True)):
            key = rule.key(record)
            members = blocks.get(key) if key else None
            if not members or len(members) > self.max_block:
                continue
            flag = 1 << bit
            for other in members:
                found[other] = found.get(other, 0) | flag
        return found


def link_pairs(left: Sequence[MatchRecord], index: BlockIndex) -> CandidatePairs:
    pairs = CandidatePairs()
    for i, record in enumerate(left):
        for j, mask in index.candidates(record).items():
            pairs.left.append(i)
            pairs.right.append(j)
            pairs.rules.append(mask)
    return pairs


def dedupe_pairs(records: Sequence[MatchRecord], index: BlockIndex) -> CandidatePairs:
    """Pairs within one set, each once (i < j)."""
    pairs = CandidatePairs()
    for i, record in enumerate(records):
        for j, mask in index.candidates(record).items():
            if j > i:
                pairs.left.append(i)
                pairs.right.append(j)
                pairs.rules.append(mask)
    return pairs
