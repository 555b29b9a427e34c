"""Trains ``ledgerlink.intelligence.suggest.embedding.Encoder`` on labelled schema pairs (round 10), with numpy.

Each field is a bag of tokens (``embedding.field_tokens``), IDF-weighted (IDF over the training schemas' fields);
its vector is ``normalize(x @ W)``. ``W`` (tokens × ``DIM``, random start) is trained by full-gradient Adam so that,
in every training schema pair, each source field with a counterpart gives its right target the highest cosine among
the target's fields: softmax cross-entropy over the target's fields at temperature ``TEMPERATURE``, the right
targets' probabilities summed. ``STEPS`` was picked on the cosine alone over six folds (30/60/100 steps: flat to
falling after 60). The trained vectors are rounded to half precision, as shipped, before anything is scored.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from ledgerlink.intelligence.suggest import ObjectSchema, embedding
from ledgerlink.intelligence.suggest.features import field_words

DIM = 32
TEMPERATURE = 0.1
STEPS = 60
RATE = 0.05
SEED = 10
# Round 11's trial: each step drops this share of every field's token entries at random, so the vectors cannot lean
# on one word a new vendor may not use (0: round 10's training).
DROP = 0.0


@functools.cache
def field_tokens(schema: ObjectSchema) -> tuple[Counter[str], ...]:
    """Each field's tokens (with counts), independent of any fold: what ``embedding`` reads at run time."""
    return tuple(embedding.field_tokens(schema, field_words(schema, None)))


def _schemas(pairs: Sequence[Any]) -> list[ObjectSchema]:
    seen: dict[int, ObjectSchema] = {}
    for p in pairs:
        for s in (p.source, p.target):
            seen.setdefault(id(s), s)
    return list(seen.values())


class Trained:
    """An encoder trained on ``pairs`` (objects with ``source``, ``target`` and ``gold``, as the benchmark's
    ``Pair``), kept as numpy arrays for fast scoring; ``encoder()`` is the shipped form."""

    @classmethod
    def of(cls, encoder: embedding.Encoder) -> Trained:
        """The numpy form of a shipped encoder (to score with it fast)."""
        self = cls.__new__(cls)
        self.tokens = sorted(encoder.vectors)
        self.index = {t: k for k, t in enumerate(self.tokens)}
        self.idf = np.array([encoder.idf[t] for t in self.tokens])
        self.w = np.array([encoder.vectors[t] for t in self.tokens], dtype=np.float64).reshape(-1, encoder.dim)
        self._encoded = {}
        return self

    def __init__(self, pairs: Sequence[Any], steps: int | None = None) -> None:
        steps = STEPS if steps is None else steps
        schemas = _schemas(pairs)
        df: Counter[str] = Counter()
        n = 0
        for schema in schemas:
            for tokens in field_tokens(schema):
                df.update(tokens.keys())
                n += 1
        self.tokens = sorted(df)
        self.index = {t: k for k, t in enumerate(self.tokens)}
        self.idf = np.array([round(math.log((1 + n) / (1 + df[t])) + 1, 4) for t in self.tokens])
        rng = np.random.default_rng(SEED)
        self.w = rng.normal(0, 1 / math.sqrt(DIM), (len(self.tokens), DIM))
        self._train(schemas, pairs, steps)
        self.w = self.w.astype(np.float16).astype(np.float64)  # as shipped
        self._encoded: dict[int, np.ndarray] = {}

    def matrix(self, schema: ObjectSchema) -> sparse.csr_matrix:
        rows, cols, vals = [], [], []
        for i, tokens in enumerate(field_tokens(schema)):
            for t, c in tokens.items():
                k = self.index.get(t)
                if k is not None:
                    rows.append(i)
                    cols.append(k)
                    vals.append(c * self.idf[k])
        x = sparse.csr_matrix((vals, (rows, cols)), shape=(len(schema.fields), len(self.index)))
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1))).ravel()
        return sparse.diags(1 / np.maximum(norms, 1e-9)) @ x

    def encode(self, schema: ObjectSchema) -> np.ndarray:
        if id(schema) not in self._encoded:
            h = self.matrix(schema) @ self.w
            self._encoded[id(schema)] = h / np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-9)
        return self._encoded[id(schema)]

    def columns(self, source: ObjectSchema, target: ObjectSchema) -> np.ndarray:
        """(source field, target field, 2): the cosine, and whether the target is the source's best by it."""
        cos = self.encode(source) @ self.encode(target).T
        best = (cos >= cos.max(axis=1, keepdims=True)).astype(float)
        return np.stack([cos, best], axis=-1)

    def encoder(self) -> embedding.Encoder:
        return embedding.Encoder(
            {t: float(self.idf[k]) for k, t in enumerate(self.tokens)},
            {t: tuple(float(v) for v in self.w[k]) for k, t in enumerate(self.tokens)},
        )

    def _train(self, schemas: list[ObjectSchema], pairs: Sequence[Any], steps: int) -> None:
        offsets: dict[int, int] = {}
        blocks = []
        total = 0
        for schema in schemas:
            offsets[id(schema)] = total
            blocks.append(self.matrix(schema))
            total += len(schema.fields)
        x = sparse.vstack(blocks).tocsr()
        xt = x.T.tocsr()
        tasks = []
        for p in pairs:
            index = {f.name: j for j, f in enumerate(p.target.fields)}
            rows = [i for i, right in enumerate(p.gold) if right]
            if not rows:
                continue
            mask = np.zeros((len(rows), len(p.target.fields)))
            for r, i in enumerate(rows):
                for name in p.gold[i]:
                    mask[r, index[name]] = 1
            src = offsets[id(p.source)] + np.asarray(rows)
            tgt = offsets[id(p.target)] + np.arange(len(p.target.fields))
            tasks.append((src, tgt, mask))
        count = sum(len(t[0]) for t in tasks)
        m = np.zeros_like(self.w)
        v = np.zeros_like(self.w)
        b1, b2 = 0.9, 0.999
        drop_rng = np.random.default_rng(SEED + 1)
        for step in range(1, steps + 1):
            if DROP:
                xd = x.copy()
                xd.data *= drop_rng.random(xd.nnz) >= DROP
                h = xd @ self.w
                xt = xd.T.tocsr()
            else:
                h = x @ self.w
            norms = np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-9)
            e = h / norms
            de = np.zeros_like(e)
            for src, tgt, mask in tasks:
                es, et = e[src], e[tgt]
                logits = es @ et.T / TEMPERATURE
                logits -= logits.max(axis=1, keepdims=True)
                p = np.exp(logits)
                p /= p.sum(axis=1, keepdims=True)
                q = p * mask
                q /= q.sum(axis=1, keepdims=True)
                g = (p - q) / (count * TEMPERATURE)
                np.add.at(de, src, g @ et)
                de[tgt] += g.T @ es
            dh = (de - e * (e * de).sum(axis=1, keepdims=True)) / norms
            grad = xt @ dh
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * grad * grad
            self.w -= RATE * (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + 1e-8)
