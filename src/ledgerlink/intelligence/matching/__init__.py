"""Golden records: probabilistic (Fellegi–Sunter) matching of canonical customers, with blocking."""

from ledgerlink.intelligence.matching.index import Candidate, CustomerIndex, MatchResult
from ledgerlink.intelligence.matching.matcher import MatchRun, MatchSettings, ScoredPair, dedupe, link
from ledgerlink.intelligence.matching.normalize import MatchRecord, to_match_record
from ledgerlink.intelligence.matching.policy import (
    Decision,
    DuplicateAction,
    DuplicatePolicy,
    Outcome,
    Thresholds,
    merged,
    outcome,
)

__all__ = [
    "Candidate",
    "CustomerIndex",
    "Decision",
    "DuplicateAction",
    "DuplicatePolicy",
    "MatchRecord",
    "MatchResult",
    "MatchRun",
    "MatchSettings",
    "Outcome",
    "ScoredPair",
    "Thresholds",
    "dedupe",
    "link",
    "merged",
    "outcome",
    "to_match_record",
]
