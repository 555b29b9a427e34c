"""For each source field, the best target field and a confidence, or none when nothing fits.

Every pair is scored; each source field takes its best target if that pair reaches the model's threshold. Two
sources may take the same target (Salesforce's billing and shipping streets both fit Xero's one ``Addresses[]``):
forcing one-to-one was measured to cost more right answers than it saved (round 11 again, greedy by score: top-1
0.848 → 0.795 over three leave-one-out folds). Since round 11 whether to answer is judged on the best target's score
weakened by how much better another source fits that target (``rescore``, a soft one-to-one; its strength is fitted
with the weights): the ranking stays the model's, only the abstention looks at the other sources.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledgerlink.intelligence.suggest.features import feature_matrix
from ledgerlink.intelligence.suggest.model import PairModel, shipped_model
from ledgerlink.intelligence.suggest.schema import ObjectSchema


@dataclass(frozen=True)
class Suggestion:
    source: str
    target: str | None
    confidence: float  # the pair's probability, rescored (``rescore``); for no target, 1 - the best's

    def to_json(self) -> dict[str, object]:
        return {"source": self.source, "target": self.target, "confidence": round(self.confidence, 3)}


def score_matrix(source: ObjectSchema, target: ObjectSchema, model: PairModel) -> list[list[float]]:
    features = feature_matrix(source, target, model.synonyms, model.vocabulary, model.encoder)
    return [[model.probability(v) for v in row] for row in features]


def rescore(scores: list[list[float]], column: float) -> list[list[float]]:
    """Each score times (score / the best score of its target over the sources) ** ``column``: a target that another
    source fits far better is a weaker answer for this one (0: the scores as they are)."""
    if not column or not scores:
        return scores
    best = [max(row[j] for row in scores) for j in range(len(scores[0]))]
    return [[s * (s / b) ** column if b > 0 else s for s, b in zip(row, best, strict=True)] for row in scores]


def assign(scores: list[list[float]], threshold: float) -> list[int | None]:
    """Per source field, the index of its best target, or None below the threshold (ties: the first)."""
    picks: list[int | None] = []
    for row in scores:
        best = max(range(len(row)), key=row.__getitem__) if row else None
        picks.append(best if best is not None and row[best] >= threshold else None)
    return picks


def gated(scores: list[list[float]], column: float) -> list[list[float]]:
    """Per source field, its best target by ``scores`` holding that pair's ``rescore``d score, every other target
    -1: ``assign`` on it ranks by the model and abstains by the rescored score."""
    judged = rescore(scores, column)
    out = []
    for row, weaker in zip(scores, judged, strict=True):
        gate = [-1.0] * len(row)
        if row:
            best = max(range(len(row)), key=row.__getitem__)
            gate[best] = weaker[best]
        out.append(gate)
    return out


def suggest(source: ObjectSchema, target: ObjectSchema, model: PairModel | None = None) -> list[Suggestion]:
    model = model or shipped_model()
    scores = gated(score_matrix(source, target, model), model.column)
    out = []
    for field, row, pick in zip(source.fields, scores, assign(scores, model.threshold), strict=True):
        if pick is None:
            out.append(Suggestion(field.name, None, 1.0 - max(max(row, default=0.0), 0.0)))
        else:
            out.append(Suggestion(field.name, target.fields[pick].name, row[pick]))
    return out
