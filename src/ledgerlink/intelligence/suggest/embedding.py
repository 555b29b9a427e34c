"""A learned representation of fields (round 10): each field a short vector, trained on the labelled schema pairs so
that fields holding the same concept in two systems point the same way.

A field is a bag of tokens: its canonical path words (the lexicon's reading), its leaf's raw words, its label's words,
character 3-grams of its name's words, its kind of type and its list depth. Each token the training schemas had
carries an IDF weight and a vector; a field's vector is the IDF-weighted sum of its tokens' vectors, normalised. A
token no training schema had adds nothing, so a new vendor's unknown words count only through their 3-grams.

The vectors are trained offline by ``benchmarks/mapping_suggestions_learned.py`` (numpy, softmax over each target's
fields) and shipped in ``weights.json`` as half-precision floats; scoring here is pure Python. The features are the
cosine of two fields' vectors and whether the target is the source's best by that cosine.
"""

from __future__ import annotations

import base64
import math
import re
import struct
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledgerlink.intelligence.suggest.schema import ObjectSchema, SchemaField
from ledgerlink.intelligence.suggest.tokens import split_words, using


def _leaf(name: str) -> str:
    return re.split(r"[.\]]", name)[-1] or name


def _grams(word: str, n: int = 3) -> list[str]:
    padded = f"#{word}#"
    return [padded[k : k + n] for k in range(max(len(padded) - n + 1, 1))]


def field_tokens(schema: ObjectSchema, canonical: Sequence[frozenset[str]]) -> list[Counter[str]]:
    """Each field's tokens with their counts; ``canonical``: each field's canonical path words read without a
    learned vocabulary (``features.field_words(schema, None)``)."""
    from ledgerlink.intelligence.suggest.features import kind

    out = []
    with using(None):
        for field, words in zip(schema.fields, canonical, strict=True):
            out.append(_tokens(field, words, kind(field)))
    return out


def _tokens(field: SchemaField, words: frozenset[str], field_kind: str) -> Counter[str]:
    tokens: Counter[str] = Counter()
    tokens.update(f"w:{w}" for w in words)
    tokens.update(f"f:{w}" for w in split_words(_leaf(field.name)).split())
    for w in split_words(field.name).split():
        tokens.update(f"c:{g}" for g in _grams(w))
    tokens.update(f"l:{w}" for w in split_words(field.label).split())
    tokens[f"t:{field_kind}"] += 1
    tokens[f"v:{field.name.count('[]')}"] += 1
    return tokens


@dataclass(frozen=True, eq=False)
class Encoder:
    idf: dict[str, float]  # token → its IDF over the training schemas' fields
    vectors: dict[str, tuple[float, ...]]  # token → its trained vector

    @property
    def dim(self) -> int:
        return len(next(iter(self.vectors.values()))) if self.vectors else 0

    def encode(self, tokens: Sequence[Counter[str]]) -> list[list[float]]:
        out = []
        dim = self.dim
        for bag in tokens:
            h = [0.0] * dim
            for token, count in bag.items():
                vector = self.vectors.get(token)
                if vector is None:
                    continue
                weight = count * self.idf[token]
                h = [a + weight * b for a, b in zip(h, vector, strict=True)]
            norm = math.sqrt(sum(a * a for a in h)) or 1.0
            out.append([a / norm for a in h])
        return out

    def columns(
        self, source: Sequence[Counter[str]], target: Sequence[Counter[str]]
    ) -> list[list[tuple[float, float]]]:
        """Per source field and target field: the cosine, and 1.0 when the target is the source's best by it."""
        es, et = self.encode(source), self.encode(target)
        out = []
        for a in es:
            row = [sum(x * y for x, y in zip(a, b, strict=True)) for b in et]
            top = max(row, default=0.0)
            out.append([(c, 1.0 if c >= top else 0.0) for c in row])
        return out

    def to_json(self) -> dict[str, Any]:
        tokens = sorted(self.vectors)
        packed = b"".join(struct.pack(f"<{self.dim}e", *self.vectors[t]) for t in tokens)
        return {
            "dim": self.dim,
            "tokens": tokens,
            "idf": [round(self.idf[t], 4) for t in tokens],
            "vectors": base64.b64encode(packed).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Encoder:
        dim = int(data["dim"])
        tokens = [str(t) for t in data["tokens"]]
        raw = base64.b64decode(data["vectors"])
        if len(raw) != 2 * dim * len(tokens):
            raise ValueError("the encoder's vectors do not match its tokens")
        flat = struct.unpack(f"<{dim * len(tokens)}e", raw)
        vectors = {t: tuple(flat[k * dim : (k + 1) * dim]) for k, t in enumerate(tokens)}
        idf = {t: float(w) for t, w in zip(tokens, data["idf"], strict=True)}
        return cls(idf, vectors)
