"""Round 10's trials around the learned representation of fields (``intelligence.suggest.embedding``, trained per
fold by ``_field_encoder`` on that fold's training systems only, part of ``mapping_suggestions.fit`` since round 10).

    python benchmarks/mapping_suggestions_learned.py --probe exact_online --probe-steps 30,60,100  # the cosine alone
    python benchmarks/mapping_suggestions_learned.py [--no-embedding] [--trial idf] [--systems a,b] [--json PATH]

The second runs the leave-one-system-out of ``mapping_suggestions.py --loso --all`` (twenty-nine systems since
round 11) with the held4 to held6 folds first (the least-read systems; ``--first``: others), ``--systems`` only
those folds. Per fold the regression, the threshold, the word associations and the encoder are learned from the
pairs among the other systems only, and the pairs touching the left-out system are scored. Round 11: ``--dump DIR``
keeps each fold's scores for ``mapping_suggestions_answer.py``, ``--float32`` halves the design matrix's memory,
``--encoder drop=0.3,steps=40`` sets the encoder's training (``_field_encoder``) for every fold.
``--no-embedding`` is round 9's model; ``--trial idf`` adds two columns (``mapping_suggestions.EXTRA``):

- ``idf``: label and name words weighted by how rare they are across the training schemas (IDF over every training
  schema's fields, not over the pair's two schemas as ``label_words`` is): the cosine of the labels' raw words and
  the cosine of the names' canonical words under that weighting. Nothing learned from the answer key, so nothing to
  cross-fit.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import mapping_suggestions as ms  # this folder, as a script
from _field_encoder import Trained
from ledgerlink.intelligence.suggest import ObjectSchema
from ledgerlink.intelligence.suggest.features import field_words
from ledgerlink.intelligence.suggest.tokens import split_words, using


def _schemas(pairs: Sequence[ms.Pair]) -> list[ObjectSchema]:
    seen: dict[int, ObjectSchema] = {}
    for p in pairs:
        for s in (p.source, p.target):
            seen.setdefault(id(s), s)
    return list(seen.values())


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


TRIALS = {"idf": idf_extra}


def _configure(config: str) -> None:
    """``name=value`` settings of ``_field_encoder`` (``dim=64,drop=0.2``)."""
    import _field_encoder

    for item in filter(None, config.split(",")):
        name, value = item.split("=")
        setattr(_field_encoder, name.upper(), type(getattr(_field_encoder, name.upper()))(float(value)))


def probe(system: str, steps: Sequence[int], config: str = "") -> None:
    """The embedding's cosine alone, ranking, on one fold (trained on the other systems' pairs): how it learns.
    ``config``: ``_configure``'s settings for this probe."""
    _configure(config)
    pairs = ms.load_all_pairs()
    for one in system.split(","):
        inner = [p for p in pairs if one not in (p.source.system, p.target.system)]
        outer = [p for p in pairs if one in (p.source.system, p.target.system)]
        for s in steps:
            started = time.perf_counter()
            trained = Trained(inner, steps=s)
            fitted = time.perf_counter() - started
            row = ms.evaluate(outer, lambda p, t=trained: t.columns(p.source, p.target)[..., 0].tolist(), 0.5)
            print(f"{one} {config} steps {s} ({fitted:.0f} s) cosine top-1 {row['top1_accuracy']:.3f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trial", choices=[*sorted(TRIALS), "none"], default="none")
    parser.add_argument("--no-embedding", action="store_true", help="without the learned representation")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--systems", help="only these folds (comma-separated), for iterating")
    parser.add_argument("--probe", help="the embedding's cosine alone on this system's fold, then stop")
    parser.add_argument("--probe-steps", default="30,60,100")
    parser.add_argument("--probe-config", default="", help="_field_encoder settings for the probe: dim=64,drop=0.2")
    parser.add_argument("--dump", type=Path, help="keep each fold's score matrices in this folder")
    parser.add_argument("--float32", action="store_true", help="the design matrix in single precision (half memory)")
    parser.add_argument("--encoder", default="", help="_field_encoder settings for every fold: drop=0.3,steps=40")
    parser.add_argument("--first", help="these folds first (comma-separated; default: the held4 to held6 ones)")
    args = parser.parse_args(argv)
    if args.probe:
        probe(args.probe, [int(s) for s in args.probe_steps.split(",")], args.probe_config)
        return 0
    ms.EMBED = not args.no_embedding
    ms.EXTRA = TRIALS.get(args.trial)
    subsets = ms.development_subsets()
    only = set(args.systems.split(",")) if args.systems else None
    # The held4 to held6 folds first: the least-read systems, what a trial is judged on above all.
    ms.DUMP = args.dump
    ms.DESIGN_DTYPE = "float32" if args.float32 else "float64"
    _configure(args.encoder)
    first = set(args.first.split(",")) if args.first else subsets["held4-6"]
    ms.loso_report(ms.load_all_pairs(), args.json, subsets, only, first=first)
    return 0


if __name__ == "__main__":
    sys.exit(main())
