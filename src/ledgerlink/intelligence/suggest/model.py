"""A logistic regression over the pair features, its weights fitted on the training schema pairs in
``benchmarks/data/schemas`` (``python benchmarks/mapping_suggestions.py --write-weights``) and shipped as JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ledgerlink.intelligence.suggest.features import FEATURE_NAMES


@dataclass(frozen=True)
class PairModel:
    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5  # below this the best target is no target

    def probability(self, features: list[float]) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, features, strict=True))
        return 1 / (1 + math.exp(-z)) if z > -60 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(FEATURE_NAMES),
            "weights": list(self.weights),
            "bias": self.bias,
            "threshold": self.threshold,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PairModel:
        if list(data["features"]) != list(FEATURE_NAMES):
            raise ValueError("the weights were fitted on other features; refit them")
        return cls(tuple(float(w) for w in data["weights"]), float(data["bias"]), float(data["threshold"]))


def shipped_model() -> PairModel:
    text = resources.files("ledgerlink.intelligence.suggest").joinpath("weights.json").read_text(encoding="utf-8")
    return PairModel.from_json(json.loads(text))
