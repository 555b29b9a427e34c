"""A logistic regression over the pair features and their pairwise products (so "same words" can weigh more when
the types also fit, less when they don't), its weights fitted on the training schema pairs in
``benchmarks/data/schemas`` (``python benchmarks/mapping_suggestions.py --write-weights``) and shipped as JSON with
the word associations learned beside it. Scoring is pure Python: no numpy or scikit-learn at run time."""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ledgerlink.intelligence.suggest.embedding import Encoder
from ledgerlink.intelligence.suggest.features import FEATURE_NAMES
from ledgerlink.intelligence.suggest.segment import Vocabulary


def pairwise(features: list[float]) -> list[float]:
    """The features, then the product of each two of them."""
    n = len(features)
    return [*features, *(features[a] * features[b] for a in range(n) for b in range(a + 1, n))]


@dataclass(frozen=True)
class PairModel:
    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5  # below this the best target is no target
    synonyms: dict[str, float] = field(default_factory=dict)  # word associations learned with the weights
    products: bool = False  # the weights are for ``pairwise(features)``
    vocabulary: Vocabulary | None = None  # known words that run-together names are split into (``segment``)
    encoder: Encoder | None = None  # the fields' learned representation (``embedding``), since round 10
    column: float = 0.0  # how much a target another source fits better weakens an answer (``suggest.rescore``)

    def probability(self, features: list[float]) -> float:
        x = pairwise(features) if self.products else features
        z = self.bias + sum(w * v for w, v in zip(self.weights, x, strict=True))
        return 1 / (1 + math.exp(-z)) if z > -60 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(FEATURE_NAMES),
            "weights": list(self.weights),
            "bias": self.bias,
            "threshold": self.threshold,
            "products": self.products,
            "synonyms": dict(sorted(self.synonyms.items())),
            "vocabulary": dict(sorted(self.vocabulary.counts.items())) if self.vocabulary else {},
            "encoder": self.encoder.to_json() if self.encoder else None,
            "column": self.column,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PairModel:
        if list(data["features"]) != list(FEATURE_NAMES):
            raise ValueError("the weights were fitted on other features; refit them")
        learned = {str(k): float(v) for k, v in (data.get("synonyms") or {}).items()}
        weights = tuple(float(w) for w in data["weights"])
        words = {str(k): int(v) for k, v in (data.get("vocabulary") or {}).items()}
        vocabulary = Vocabulary(words) if words else None
        encoder = Encoder.from_json(data["encoder"]) if data.get("encoder") else None
        return cls(
            weights,
            float(data["bias"]),
            float(data["threshold"]),
            learned,
            bool(data.get("products")),
            vocabulary,
            encoder,
            float(data.get("column") or 0.0),
        )


@functools.cache
def shipped_model() -> PairModel:
    """The model in ``weights.json``, read once (since round 10 it carries the encoder's vectors: ~20 ms to read)."""
    text = resources.files("ledgerlink.intelligence.suggest").joinpath("weights.json").read_text(encoding="utf-8")
    return PairModel.from_json(json.loads(text))
