"""Round 10's trials: a learned representation of fields, trained per fold on that fold's training systems only.

    python benchmarks/mapping_suggestions_learned.py --trial embedding [--json PATH] [--systems a,b,...]
    python benchmarks/mapping_suggestions_learned.py --trial idf [--json PATH]
    python benchmarks/mapping_suggestions_learned.py --trial embedding+idf [--json PATH]

Each trial adds feature columns to the shipped features (``mapping_suggestions.EXTRA``) and runs the same
leave-one-system-out as ``mapping_suggestions.py --loso --all`` (twenty-five systems): per fold the regression, the
threshold, the word associations and the trial's representation are learned from the pairs among the other
twenty-four systems only, and the pairs touching the left-out system are scored.

- ``embedding``: a bi-encoder. Each field is a bag of tokens, TF-IDF weighted (IDF over the training schemas' fields):
  its canonical path words (the lexicon's), its leaf's raw words, its label's words, character 3-grams of its name's
  words, its kind of type and its list depth. A field's vector is ``normalize(x @ W)``, ``W`` (tokens × 32) trained
  with numpy (full gradient, Adam) so that, in each training schema pair, a source field's right target has the
  highest cosine among the target's fields (softmax cross-entropy over the target's fields, temperature 0.1).
  Tokens no training schema has get no vector: a new vendor's unseen words count only by their 3-grams. Features:
  the cosine, and whether this target is the source's best by cosine. Cross-fitted: a training pair's columns come
  from a ``W`` trained without the group (one of four) holding its source system.
- ``idf``: label and name words weighted by how rare they are across the training schemas (IDF over every training
  schema's fields, not over the pair's two schemas as ``label_words`` is): the cosine of the labels' raw words and
  the cosine of the names' canonical words under that weighting. Nothing learned from the answer key, so nothing to
  cross-fit.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

import mapping_suggestions as ms  # this folder, as a script
from ledgerlink.intelligence.suggest import ObjectSchema
from ledgerlink.intelligence.suggest import embedding
from ledgerlink.intelligence.suggest.features import field_words
from ledgerlink.intelligence.suggest.tokens import split_words, using

DIM = 32
TEMPERATURE = 0.1
STEPS = 60
RATE = 0.05
GROUPS = 4
SEED = 10


@functools.cache
def field_tokens(schema: ObjectSchema) -> tuple[Counter[str], ...]:
    """Each field's tokens (with counts), independent of any fold: what ``suggest.embedding`` reads at run time."""
    return tuple(embedding.field_tokens(schema, field_words(schema, None)))


def _schemas(pairs: Sequence[ms.Pair]) -> list[ObjectSchema]:
    seen: dict[int, ObjectSchema] = {}
    for p in pairs:
        for s in (p.source, p.target):
            seen.setdefault(id(s), s)
    return list(seen.values())


class Encoder:
    """Token vocabulary, IDF and the trained projection of one training set."""

    def __init__(self, pairs: Sequence[ms.Pair], steps: int | None = None) -> None:
        steps = STEPS if steps is None else steps
        schemas = _schemas(pairs)
        df: Counter[str] = Counter()
        n = 0
        for schema in schemas:
            for tokens in field_tokens(schema):
                df.update(tokens.keys())
                n += 1
        self.index = {t: k for k, t in enumerate(sorted(df))}
        self.idf = np.array([math.log((1 + n) / (1 + df[t])) + 1 for t in sorted(df)])
        rng = np.random.default_rng(SEED)
        self.w = rng.normal(0, 1 / math.sqrt(DIM), (len(self.index), DIM))
        self._train(schemas, pairs, steps)

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
        h = self.matrix(schema) @ self.w
        return h / np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-9)

    def _train(self, schemas: list[ObjectSchema], pairs: Sequence[ms.Pair], steps: int) -> None:
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
        for step in range(1, steps + 1):
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

    def columns(self, pair: ms.Pair) -> np.ndarray:
        cos = self.encode(pair.source) @ self.encode(pair.target).T
        best = (cos >= cos.max(axis=1, keepdims=True)).astype(float)
        return np.stack([cos, best], axis=-1)


def embedding_extra(pairs: Sequence[ms.Pair]) -> tuple[ms.ExtraColumns, ms.ExtraColumns]:
    started = time.perf_counter()
    systems = sorted({p.source.system for p in pairs})
    group = {s: k % GROUPS for k, s in enumerate(systems)}
    encoders = {
        g: Encoder([p for p in pairs if group[p.source.system] != g and group[p.target.system] != g])
        for g in range(GROUPS)
    }
    full = Encoder(pairs)
    print(f"    embedding: {GROUPS + 1} encoders in {time.perf_counter() - started:.0f} s", flush=True)
    cache: dict[tuple[int, int], np.ndarray] = {}

    def cached(encoder: Encoder, pair: ms.Pair) -> np.ndarray:
        k = (id(encoder), id(pair))
        if k not in cache:
            cache[k] = encoder.columns(pair)
        return cache[k]

    return (lambda p: cached(encoders[group[p.source.system]], p)), (lambda p: cached(full, p))


def _idf_table(pairs: Sequence[ms.Pair]) -> tuple[dict[str, float], dict[str, float]]:
    label_df: Counter[str] = Counter()
    name_df: Counter[str] = Counter()
    n = 0
    for schema in _schemas(pairs):
        with using(None):
            labels = [set(split_words(f.label).split()) for f in schema.fields]
        names = field_words(schema, None)
        for a, b in zip(labels, names, strict=True):
            label_df.update(a)
            name_df.update(b)
            n += 1
    unseen = math.log(1 + n) + 1  # a word no training schema has is as rare as can be
    label = {w: math.log((1 + n) / (1 + c)) + 1 for w, c in label_df.items()}
    name = {w: math.log((1 + n) / (1 + c)) + 1 for w, c in name_df.items()}
    label[""] = name[""] = unseen
    return label, name


def _cos_matrix(a: list[Counter[str]], b: list[Counter[str]], idf: dict[str, float]) -> np.ndarray:
    unseen = idf[""]
    vocab = sorted({w for c in (*a, *b) for w in c})
    index = {w: k for k, w in enumerate(vocab)}

    def mat(docs: list[Counter[str]]) -> np.ndarray:
        out = np.zeros((len(docs), max(len(vocab), 1)))
        for i, doc in enumerate(docs):
            for w, c in doc.items():
                out[i, index[w]] = c * idf.get(w, unseen)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)

    return mat(a) @ mat(b).T


def idf_extra(pairs: Sequence[ms.Pair]) -> tuple[ms.ExtraColumns, ms.ExtraColumns]:
    label_idf, name_idf = _idf_table(pairs)

    @functools.cache
    def columns(pair: ms.Pair) -> np.ndarray:
        with using(None):
            sl = [Counter(split_words(f.label).split()) for f in pair.source.fields]
            tl = [Counter(split_words(f.label).split()) for f in pair.target.fields]
        sn = [Counter(w) for w in field_words(pair.source, None)]
        tn = [Counter(w) for w in field_words(pair.target, None)]
        return np.stack([_cos_matrix(sl, tl, label_idf), _cos_matrix(sn, tn, name_idf)], axis=-1)

    by_id: dict[int, np.ndarray] = {}

    def get(pair: ms.Pair) -> np.ndarray:
        if id(pair) not in by_id:
            by_id[id(pair)] = columns.__wrapped__(pair)
        return by_id[id(pair)]

    return get, get


def combined(*makers: Any) -> Any:
    def extra(pairs: Sequence[ms.Pair]) -> tuple[ms.ExtraColumns, ms.ExtraColumns]:
        made = [maker(pairs) for maker in makers]
        return (
            lambda p: np.concatenate([m[0](p) for m in made], axis=-1),
            lambda p: np.concatenate([m[1](p) for m in made], axis=-1),
        )

    return extra


TRIALS = {
    "embedding": embedding_extra,
    "idf": idf_extra,
    "embedding+idf": combined(embedding_extra, idf_extra),
}


def probe(system: str, steps: Sequence[int]) -> None:
    """The embedding's cosine alone, ranking, on one fold: a quick check that it learns."""
    pairs = ms.load_all_pairs()
    inner = [p for p in pairs if system not in (p.source.system, p.target.system)]
    outer = [p for p in pairs if system in (p.source.system, p.target.system)]
    for s in steps:
        started = time.perf_counter()
        encoder = Encoder(inner, steps=s)
        fitted = time.perf_counter() - started
        for name, group in (("held", outer),):
            row = ms.evaluate(group, lambda p: encoder.columns(p)[..., 0].tolist(), 0.5)
            print(f"{system} steps {s} ({fitted:.0f} s) {name} cosine top-1 {row['top1_accuracy']:.3f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trial", choices=sorted(TRIALS), required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--systems", help="only these folds (comma-separated), for iterating")
    parser.add_argument("--probe", help="the cosine alone on this system's fold, then stop")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--probe-steps", default="0,150")
    args = parser.parse_args(argv)
    global STEPS
    STEPS = args.steps
    if args.probe:
        probe(args.probe, [int(s) for s in args.probe_steps.split(",")])
        return 0
    ms.EXTRA = TRIALS[args.trial]
    subsets = {
        "fresh": {s.system for s in ms._schemas(ms.FRESH)},
        "held3": {s.system for s in ms._schemas(ms.HELD3)},
        "held4": {s.system for s in ms._schemas(ms.HELD4)},
        "held5": {s.system for s in ms._schemas(ms.HELD5)},
    }
    subsets["held4+held5"] = subsets["held4"] | subsets["held5"]
    only = set(args.systems.split(",")) if args.systems else None
    # The held4 and held5 folds first: the least-read systems, what the trial is judged on above all.
    ms.loso_report(ms.load_all_pairs(), args.json, subsets, only, first=subsets["held4+held5"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
