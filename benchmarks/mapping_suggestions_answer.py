"""Round 11: ways of answering from a fold's scores, compared after one leave-one-out run that kept its scores.

    python benchmarks/mapping_suggestions_learned.py --systems ... --dump DIR   # the run, keeping every fold's scores
    python benchmarks/mapping_suggestions_answer.py DIR                         # each way of answering, per fold

Per fold the dump holds the score matrices of the pairs fitted on (as the fit scored them to pick its threshold) and
of the pairs left out. Each way of answering picks what it tunes (a threshold, a weight) on the first only, as
``pick_threshold`` does, and is scored on the second with the figures of ``mapping_suggestions.evaluate``:

- ``argmax``: each source field its best target, none below the threshold (what ships before round 11);
- ``greedy``: one-to-one, the pairs taken by score, highest first, a target used once per pair of objects;
- ``column a``: the score times (score / the target's best score over the sources) ** a: a target another source
  fits far better is a weaker answer (a soft one-to-one), ``a`` picked on the fitted pairs;
- ``column a, gate``: as ``column a`` for the ranking, with the abstention threshold picked again on its scores.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import mapping_suggestions as ms  # this folder, as a script

Answer = Callable[[np.ndarray], np.ndarray]  # a pair's scores → the scores the answer is taken from


def _gold(pair: ms.Pair) -> np.ndarray:
    index = {f.name: j for j, f in enumerate(pair.target.fields)}
    y = np.zeros((len(pair.source.fields), len(pair.target.fields)), dtype=bool)
    for i, right in enumerate(pair.gold):
        for name in right:
            y[i, index[name]] = True
    return y


def column(a: float) -> Answer:
    def rescore(s: np.ndarray) -> np.ndarray:
        if a == 0:
            return s
        top = np.maximum(s.max(axis=0, keepdims=True), 1e-12)
        return s * (s / top) ** a

    return rescore


def gate(a: float) -> Answer:
    """Ranking by the scores as they are, the answer's abstention judged on its ``column(a)`` score."""

    def answer(s: np.ndarray) -> np.ndarray:
        r = column(a)(s)
        best = s.argmax(axis=1)
        out = np.full_like(s, -1.0)
        rows = np.arange(len(s))
        out[rows, best] = r[rows, best]
        return out

    return answer


def greedy(s: np.ndarray) -> np.ndarray:
    """Each source its target one-to-one, taken by score (highest first); a source left without one keeps its own
    scores but ranks below: returned as scores whose row argmax is the greedy pick."""
    n, m = s.shape
    order = np.argsort(-s, axis=None, kind="stable")
    pick = np.full(n, -1)
    used = np.zeros(m, dtype=bool)
    left = n
    for k in order:
        i, j = divmod(int(k), m)
        if pick[i] >= 0 or used[j]:
            continue
        pick[i] = j
        used[j] = True
        left -= 1
        if left == 0 or used.all():
            break
    out = np.full_like(s, -1.0)
    for i in range(n):
        if pick[i] >= 0:
            out[i, pick[i]] = s[i, pick[i]]
        else:
            out[i] = s[i] - 2.0  # no target left: its best, below any threshold
    return out


def fields(scores: dict[int, np.ndarray], golds: dict[int, np.ndarray], answer: Answer) -> np.ndarray:
    """Per source field: (its answer's score, the answer is right, the field has a counterpart)."""
    rows = []
    for k, s in scores.items():
        r = answer(s.astype(np.float64))
        y = golds[k]
        best = r.argmax(axis=1)
        top = r[np.arange(len(r)), best]
        right = y[np.arange(len(r)), best]
        rows.append(np.stack([top, right, y.any(axis=1)], axis=1))
    return np.concatenate(rows)


def field_features(s: np.ndarray) -> np.ndarray:
    """Per source field, what says whether its best target is an answer: the best score, the second, the best's
    share of the target's best over the sources, how many sources have that best target, and the pair's level (the
    mean and the spread of every source's best score: a pair of schemas that say little scores low throughout)."""
    n, m = s.shape
    order = np.sort(s, axis=1)
    top = order[:, -1]
    second = order[:, -2] if m > 1 else np.zeros(n)
    best = s.argmax(axis=1)
    colmax = s.max(axis=0)
    share = top / np.maximum(colmax[best], 1e-12)
    crowd = np.bincount(best, minlength=m)[best]
    logit = np.log(np.clip(top, 1e-6, 1 - 1e-6) / (1 - np.clip(top, 1e-6, 1 - 1e-6)))
    level = np.full(n, top.mean())
    spread = np.full(n, top.std())
    high = np.full(n, (top >= 0.5).mean())
    return np.stack(
        [
            top,
            second,
            top - second,
            share,
            share >= 1,
            np.log(crowd),
            logit,
            level,
            spread,
            high,
            np.full(n, np.log(m)),
        ],
        axis=1,
    )


def stage_two(fold: dict[str, Any], golds: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A logistic regression on ``field_features`` fitted on the fold's fitted pairs (answer right vs no
    counterpart), then its probability for the fitted and the left-out fields: (fitted, left-out) ``fields`` rows
    with that probability in place of the score."""
    from sklearn.linear_model import LogisticRegression

    def table(scores: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        xs = [field_features(v.astype(np.float64)) for v in scores.values()]
        return np.concatenate(xs), fields(scores, golds, column(0))

    x_in, f_in = table(fold["inner"])
    x_out, f_out = table(fold["outer"])
    keep = f_in[:, 1].astype(bool) | ~f_in[:, 2].astype(bool)  # right to answer, or right to abstain
    mean, sd = x_in.mean(axis=0), x_in.std(axis=0) + 1e-9
    model = LogisticRegression(C=1.0, max_iter=2000).fit((x_in[keep] - mean) / sd, f_in[keep, 1])
    f_in = f_in.copy()
    f_out = f_out.copy()
    f_in[:, 0] = model.predict_proba((x_in - mean) / sd)[:, 1]
    f_out[:, 0] = model.predict_proba((x_out - mean) / sd)[:, 1]
    return f_in, f_out


def figures(f: np.ndarray, threshold: float) -> dict[str, Any]:
    top, right, has = f[:, 0], f[:, 1].astype(bool), f[:, 2].astype(bool)
    answered = top >= threshold
    abstained = ~answered
    return {
        "fields": int(has.sum()),
        "top1": float(right[has].mean()),
        "e2e": float((right & answered)[has].mean()),
        "abstentions": int(abstained.sum()),
        "abstention_precision": float((~has[abstained]).mean()) if abstained.any() else float("nan"),
    }


def pick(f: np.ndarray, grid: Sequence[float]) -> float:
    """``pick_threshold``'s rule: the most right answers (suggestions and abstentions), ties the lower."""
    top, right, has = f[:, 0], f[:, 1].astype(bool), f[:, 2].astype(bool)
    best, best_t = -1, grid[0]
    for t in grid:
        n = int((right & (top >= t)).sum() + (~has & (top < t)).sum())
        if n > best:
            best, best_t = n, t
    return best_t


GRID = [i / 100 for i in range(5, 96)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump", type=Path)
    parser.add_argument("--alphas", default="0,0.25,0.5,1,2")
    args = parser.parse_args(argv)
    pairs = ms.load_all_pairs()
    golds = {k: _gold(p) for k, p in enumerate(pairs)}
    subsets = ms.development_subsets()
    alphas = [float(a) for a in args.alphas.split(",")]
    rows: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for path in sorted(args.dump.glob("*.pkl")):
        with path.open("rb") as fh:
            fold = pickle.load(fh)
        system = path.stem
        # The fold's own way (since round 11 the fit picks a column strength too) with its threshold.
        ways: list[tuple[str, Answer, bool]] = [("as fitted (kept threshold)", column(fold.get("column", 0.0)), False)]
        ways += [(f"column {a} (gate refit)", column(a), True) for a in alphas]
        ways += [(f"gate only {a} (gate refit)", gate(a), True) for a in alphas]
        ways += [("greedy 1:1 (gate refit)", greedy, True)]
        inner_fits = {}
        for name, answer, refit in ways:
            inner = fields(fold["inner"], golds, answer)
            threshold = pick(inner, GRID) if refit else fold["threshold"]
            row = figures(fields(fold["outer"], golds, answer), threshold)
            row["threshold"] = threshold
            row["inner_right"] = float(figures(inner, threshold)["e2e"])
            inner_fits[name] = row
            rows.setdefault(name, []).append((system, row))
        f_in, f_out = stage_two(fold, golds)
        threshold = pick(f_in, GRID)
        rows.setdefault("stage two (gate refit)", []).append(
            (system, {**figures(f_out, threshold), "threshold": threshold})
        )
        best_alpha = max(alphas, key=lambda a: (inner_fits[f"column {a} (gate refit)"]["inner_right"], -a))
        rows.setdefault("column, a picked on fitted pairs", []).append(
            (system, {**inner_fits[f"column {best_alpha} (gate refit)"], "alpha": best_alpha})
        )
        best_gate = max(alphas, key=lambda a: (inner_fits[f"gate only {a} (gate refit)"]["inner_right"], -a))
        rows.setdefault("gate only, a picked on fitted pairs", []).append(
            (system, {**inner_fits[f"gate only {best_gate} (gate refit)"], "alpha": best_gate})
        )
    for name, folds in rows.items():
        print(f"== {name}")
        for system, r in folds:
            extra = f" a={r['alpha']}" if "alpha" in r else ""
            print(
                f"  {system:13} top-1 {r['top1']:.3f} e2e {r['e2e']:.3f} abst.prec {r['abstention_precision']:.3f}"
                f" ({r['abstentions']}) thr {r['threshold']}{extra}"
            )
        for label, chosen in [*subsets.items(), ("all run", {s for s, _ in folds})]:
            sel = [r for s, r in folds if s in chosen]
            if not sel:
                continue
            ab = sum(r["abstentions"] for r in sel)
            prec = sum(r["abstention_precision"] * r["abstentions"] for r in sel) / ab if ab else float("nan")
            print(
                f"  mean {label:8} ({len(sel):2}) top-1 {np.mean([r['top1'] for r in sel]):.4f} e2e "
                f"{np.mean([r['e2e'] for r in sel]):.4f} abst.prec {prec:.4f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
