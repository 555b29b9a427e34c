"""Comparison vectors: for each field, how closely two records agree, as a small level number.

Level ``-1`` means one side has no value (the field then counts for nothing), ``0`` means they disagree and higher
levels mean closer agreement, the top one being exact. One function computes the whole vector because it runs for
every candidate pair, and a call per field would cost more than the string metrics themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from ledgerlink.intelligence.matching.normalize import MatchRecord

MISSING = -1


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # level 0 first ("else"), the exact level last
    crossed: bool = False  # address lines typed in the other order count too (street on one, locality on the other)


COMPARISONS: tuple[Comparison, ...] = (
    Comparison("name", ("else", "jaro-winkler ≥ 0.80", "≥ 0.90 or one name within the other", "≥ 0.96", "exact")),
    Comparison("email", ("else", "same company domain", "exact")),
    Comparison("phone", ("else", "within 2 edits", "exact")),
    Comparison("postcode", ("else", "same first three", "within 1 edit or a transposition", "exact")),
    Comparison("street_number", ("else", "exact")),
    Comparison("street", ("else", "jaro-winkler ≥ 0.80", "≥ 0.92", "exact"), crossed=True),
    Comparison("locality", ("else", "jaro-winkler ≥ 0.88", "exact"), crossed=True),
    Comparison("city", ("else", "jaro-winkler ≥ 0.88", "exact")),
    Comparison("region", ("else", "exact")),
    Comparison("vat", ("else", "exact")),
    Comparison("web_domain", ("else", "exact")),
)
COMPARISON_NAMES = tuple(c.name for c in COMPARISONS)
LEVEL_COUNTS = tuple(len(c.levels) for c in COMPARISONS)

_jw = JaroWinkler.similarity
_lev = Levenshtein.distance
_osa = OSA.distance  # a transposition ("2139" for "2193") is one edit


def _name_level(a: MatchRecord, b: MatchRecord) -> int:
    if not a.name or not b.name:
        return MISSING
    if a.name_sorted == b.name_sorted:
        return 4
    score = max(_jw(a.name, b.name), _jw(a.name_sorted, b.name_sorted))
    if score >= 0.96:
        return 3
    if score >= 0.90:
        return 2
    # "Green" against "Mitchell Green": one side left out a word.
    shorter, longer = sorted((a.name_sorted.split(), b.name_sorted.split()), key=len)
    if len(shorter) < len(longer) and set(shorter) <= set(longer):
        return 2
    return 1 if score >= 0.80 else 0


def _graded(x: str, y: str, thresholds: tuple[float, ...]) -> int:
    """Exact is the top level; then one level per Jaro-Winkler threshold, highest first."""
    if not x or not y:
        return MISSING
    if x == y:
        return len(thresholds) + 1
    score = _jw(x, y)
    for index, threshold in enumerate(thresholds):
        if score >= threshold:
            return len(thresholds) - index
    return 0


def _address_lines(a: MatchRecord, b: MatchRecord) -> tuple[int, int]:
    """Street and locality levels, each the better of the lines as typed or crossed over."""
    street = _graded(a.street, b.street, (0.92, 0.80))
    locality = _graded(a.locality, b.locality, (0.88,))
    if street < 3 and (a.locality or b.locality):
        street = max(street, _graded(a.street, b.locality, (0.92, 0.80)), _graded(a.locality, b.street, (0.92, 0.80)))
        crossed = max(_graded(a.locality, b.street, (0.88,)), _graded(a.street, b.locality, (0.88,)))
        locality = max(locality, crossed)
    return street, locality


def _exact(x: str, y: str) -> int:
    if not x or not y:
        return MISSING
    return 1 if x == y else 0


def _email_level(a: MatchRecord, b: MatchRecord) -> int:
    if not a.email or not b.email:
        return MISSING
    if a.email == b.email:
        return 2
    return 1 if a.email_domain and a.email_domain == b.email_domain else 0


def _phone_level(x: str, y: str) -> int:
    if not x or not y:
        return MISSING
    if x == y:
        return 2
    return 1 if _lev(x, y, score_cutoff=2) <= 2 else 0


def _postcode_level(x: str, y: str) -> int:
    if not x or not y:
        return MISSING
    if x == y:
        return 3
    if _osa(x, y, score_cutoff=1) <= 1:
        return 2
    return 1 if x[:3] == y[:3] else 0


def compare(a: MatchRecord, b: MatchRecord) -> tuple[int, ...]:
    street, locality = _address_lines(a, b)
    return (
        _name_level(a, b),
        _email_level(a, b),
        _phone_level(a.phone, b.phone),
        _postcode_level(a.postcode, b.postcode),
        _exact(a.street_number, b.street_number),
        street,
        locality,
        _graded(a.city, b.city, (0.88,)),
        _exact(a.region, b.region),
        _exact(a.vat, b.vat),
        _exact(a.web_domain, b.web_domain),
    )
