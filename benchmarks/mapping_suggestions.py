"""Mapping suggestions on real public schemas, held-out systems against a rapidfuzz baseline.

    python benchmarks/mapping_suggestions.py [--write-weights] [--json PATH]
    python benchmarks/mapping_suggestions.py --dev    # the tuning figures: training systems only
    python benchmarks/mapping_suggestions.py --fresh  # also the fresh split (benchmarks/data/schemas_fresh)

``--dev`` is what changes to the lexicon and the features are judged on: leave one training system out, fit on the
training pairs without it, score the training pairs with it, for each of the five; neither the held-out nor the
blind pairs are loaded into it.

Data: ``benchmarks/data/schemas/*.json``, one object of one system each (customers, products and invoices of
Salesforce, Xero, QuickBooks Online, Sage Accounting, FreeAgent, Zoho Books, KashFlow and Kashoo), each naming its
public source. ``gold.json`` gives each field the concepts it holds, most specific first ("bill.postcode", then
"addr.postcode"); a source field's right targets are the target fields holding its first concept the target has,
and a field whose concepts the target lacks (or that has none) has no counterpart: there, no target is right.

Split: the weights are fitted on the pairs among Salesforce, Xero, QuickBooks, KashFlow and Kashoo (both
directions, same kind of object); every pair involving Sage, FreeAgent or Zoho Books is held out and is what the
figures report. Each method also picks its abstention threshold on the training pairs only.

Methods, all with the same assignment as ``suggest`` (each source field its best target, or none below the
method's threshold):
- rapidfuzz: ``fuzz.WRatio`` of the names split into words (``BillingPostalCode`` → "billing postal code");
- lexicon: LedgerLink's features (canonical words, TF-IDF, types, samples) summed with fixed weights, no fitting;
- round-4 model: the logistic regression on the first eleven features (what shipped after issue 20's fourth round,
  refitted on today's lexicon): what round 5 (issue 20's gaps, 2026-12-07) adds, in the same run;
- ledgerlink: all the features (with the word associations learned from the training pairs) and their pairwise
  products through the logistic regression fitted on the training pairs (what ships).

The learned word associations (``intelligence.suggest.synonyms``) are cross-fitted: each training pair's feature is
computed with the associations learned from the training pairs without its source system (a held-out pair has a
system the associations never saw); the model ships with the associations learned from all the training pairs.

Figures, on the fields that have a counterpart: top-1 accuracy (the best-scored target is a right one) and
end-to-end accuracy (the answer given, after abstention, is a right one: an abstention there counts as wrong); on
all fields: coverage (share of fields given a target), precision of the abstentions (share of "no target" answers
that are right: the field truly has no counterpart) and precision of the suggestions made.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from ledgerlink.intelligence.suggest import ObjectSchema, PairModel, load_schema, synonyms
from ledgerlink.intelligence.suggest.features import FEATURE_NAMES, feature_matrix, field_words
from ledgerlink.intelligence.suggest.model import pairwise
from ledgerlink.intelligence.suggest.suggest import assign
from ledgerlink.intelligence.suggest.tokens import split_words

DATA = Path(__file__).parent / "data" / "schemas"
WEIGHTS = Path(__file__).parents[1] / "src" / "ledgerlink" / "intelligence" / "suggest" / "weights.json"
HELD_OUT_SYSTEMS = {"sage", "freeagent", "zoho_books"}
# Collected after the lexicon and the features were frozen, and scored once: the blind test.
BLIND_SYSTEMS = {"freshbooks", "odoo"}
# Collected by hand for issue 20 after the other splits had been scored too often: scored only with --fresh.
FRESH = Path(__file__).parent / "data" / "schemas_fresh"
KIND = {
    "Account": "customer", "Contact": "customer", "Customer": "customer", "contact": "customer",
    "Client": "customer", "res.partner": "customer",
    "Product2": "product", "Item": "product", "Product": "product", "PriceListItem": "product", "item": "product",
    "Invoice": "invoice", "SalesInvoice": "invoice", "invoice": "invoice",
    "customer": "customer", "organization": "customer", "salesInvoice": "invoice", "ItemInvoice": "invoice",
    "product": "product",
}  # fmt: skip

Scores = list[list[float]]


@dataclass
class Pair:
    source: ObjectSchema
    target: ObjectSchema
    gold: list[set[str]]  # per source field, its right targets (empty: no counterpart)

    @property
    def name(self) -> str:
        return f"{self.source.system}/{self.source.object} → {self.target.system}/{self.target.object}"


def load_pairs() -> tuple[list[Pair], list[Pair], list[Pair]]:
    concepts: dict[str, dict[str, list[str]]] = json.loads((DATA / "gold.json").read_text())
    schemas = [load_schema(p) for p in sorted(DATA.glob("*.json")) if p.name != "gold.json"]
    train: list[Pair] = []
    held_out: list[Pair] = []
    blind: list[Pair] = []
    for a, b in itertools.permutations(schemas, 2):
        if a.system == b.system or KIND[a.object] != KIND[b.object]:
            continue
        ca, cb = concepts[f"{a.system}/{a.object}"], concepts[f"{b.system}/{b.object}"]
        gold = []
        for field in a.fields:
            right: set[str] = set()
            for concept in ca.get(field.name, []):
                right = {name for name, theirs in cb.items() if concept in theirs}
                if right:
                    break
            gold.append(right)
        pair = Pair(a, b, gold)
        systems = {a.system, b.system}
        (blind if systems & BLIND_SYSTEMS else held_out if systems & HELD_OUT_SYSTEMS else train).append(pair)
    return train, held_out, blind


def load_fresh_pairs() -> list[Pair]:
    """The fresh split: every pair with a system of ``schemas_fresh`` on either side, the other side any system of
    either folder (same kind of object), with the union of both answer keys."""
    concepts: dict[str, dict[str, list[str]]] = {
        **json.loads((DATA / "gold.json").read_text()),
        **json.loads((FRESH / "gold.json").read_text()),
    }
    fresh = [load_schema(p) for p in sorted(FRESH.glob("*.json")) if p.name != "gold.json"]
    known = [load_schema(p) for p in sorted(DATA.glob("*.json")) if p.name != "gold.json"]
    fresh_systems = {s.system for s in fresh}
    pairs = []
    for a, b in itertools.permutations(fresh + known, 2):
        if a.system == b.system or KIND[a.object] != KIND[b.object] or not {a.system, b.system} & fresh_systems:
            continue
        ca, cb = concepts[f"{a.system}/{a.object}"], concepts[f"{b.system}/{b.object}"]
        gold = []
        for field in a.fields:
            right: set[str] = set()
            for concept in ca.get(field.name, []):
                right = {name for name, theirs in cb.items() if concept in theirs}
                if right:
                    break
            gold.append(right)
        pairs.append(Pair(a, b, gold))
    return pairs


def evaluate(pairs: Sequence[Pair], scorer: Callable[[Pair], Scores], threshold: float) -> dict[str, Any]:
    with_counterpart = correct = ranked_first = abstained = right_abstentions = suggested = right_suggestions = 0
    for pair in pairs:
        scores = scorer(pair)
        picks = assign(scores, threshold)
        for gold, pick, best in zip(pair.gold, picks, assign(scores, float("-inf")), strict=True):
            if gold and best is not None:
                ranked_first += pair.target.fields[best].name in gold
            target = pair.target.fields[pick].name if pick is not None else None
            if gold:
                with_counterpart += 1
                correct += target in gold
            if target is None:
                abstained += 1
                right_abstentions += not gold
            else:
                suggested += 1
                right_suggestions += target in gold
    return {
        "pairs": len(pairs),
        "fields_with_counterpart": with_counterpart,
        "top1_accuracy": round(ranked_first / with_counterpart, 4) if with_counterpart else None,
        "end_to_end_accuracy": round(correct / with_counterpart, 4) if with_counterpart else None,
        "coverage": round(suggested / (suggested + abstained), 4) if suggested + abstained else None,
        "abstentions": abstained,
        "abstention_precision": round(right_abstentions / abstained, 4) if abstained else None,
        "suggestions": suggested,
        "suggestion_precision": round(right_suggestions / suggested, 4) if suggested else None,
    }


def _decisions_right(pairs: Sequence[Pair], scorer: Callable[[Pair], Scores], threshold: float) -> int:
    right = 0
    for pair in pairs:
        for gold, pick in zip(pair.gold, assign(scorer(pair), threshold), strict=True):
            target = pair.target.fields[pick].name if pick is not None else None
            right += (target in gold) if gold else (target is None)
    return right


def pick_threshold(pairs: Sequence[Pair], scorer: Callable[[Pair], Scores], grid: Sequence[float]) -> float:
    """The threshold with the most right answers (suggestions and abstentions) on the training pairs."""
    cache = {id(p): scorer(p) for p in pairs}
    return max(grid, key=lambda t: (_decisions_right(pairs, lambda p: cache[id(p)], t), -t))


# ---------------------------------------------------------------- the methods
def rapidfuzz_scores(pair: Pair) -> Scores:
    targets = [split_words(f.name) for f in pair.target.fields]
    return [[fuzz.WRatio(split_words(f.name), t) / 100 for t in targets] for f in pair.source.fields]


_FIXED = (1.0, 0.5, 1.0, 0.25, 0.3, 0.2, 0.3, 0.3, 0.5, 1.0)  # a plain sum of the evidence, nothing fitted


def lexicon_scores(pair: Pair) -> Scores:
    total = sum(_FIXED)
    return [
        [sum(w * x for w, x in zip(_FIXED, v[: len(_FIXED)], strict=True)) / total for v in row]
        for row in _features(pair)
    ]


# The model of issue 20's fourth round: the first eleven features (up to side_fit), no products, no learned words.
PREVIOUS_FEATURES = FEATURE_NAMES.index("side_fit") + 1
_FEATURES: dict[tuple[int, int], list[list[list[float]]]] = {}
_TABLES: dict[frozenset[int], dict[str, float]] = {}
_KEEP: list[Any] = []  # keeps the tables alive, so their ids stay theirs


def _features(pair: Pair, table: dict[str, float] | None = None) -> list[list[list[float]]]:
    k = (id(pair), id(table) if table else 0)
    if k not in _FEATURES:
        _FEATURES[k] = feature_matrix(pair.source, pair.target, table)
    return _FEATURES[k]


def learn_table(pairs: Sequence[Pair]) -> dict[str, float]:
    """The word associations learned from ``pairs`` (``intelligence.suggest.synonyms``)."""
    k = frozenset(id(p) for p in pairs)
    if k not in _TABLES:
        data = []
        for pair in pairs:
            index = {f.name: j for j, f in enumerate(pair.target.fields)}
            gold = [{index[name] for name in right} for right in pair.gold]
            data.append((field_words(pair.source), field_words(pair.target), gold))
        _TABLES[k] = synonyms.learn(data)
        _KEEP.append(_TABLES[k])
    return _TABLES[k]


def cross_fitted(pairs: Sequence[Pair]) -> dict[int, dict[str, float]]:
    """For each training pair, the associations learned from the pairs without its source system: a held-out
    pair has one system the table never saw, so each training pair is scored the same way (else the learned
    feature looks far better in fitting than it is on a new system)."""
    tables = {
        system: learn_table([p for p in pairs if system not in (p.source.system, p.target.system)])
        for system in {p.source.system for p in pairs}
    }
    return {id(p): tables[p.source.system] for p in pairs}


def fit(pairs: Sequence[Pair], width: int | None = None, products: bool = True) -> PairModel:
    """Logistic regression on the training pairs; ``width``: only the first so many features (the previous model);
    ``products``: on the features and their pairwise products (what ships since issue 20's third round)."""
    from sklearn.linear_model import LogisticRegression

    learned = width is None or width > FEATURE_NAMES.index("learned_words")
    tables = cross_fitted(pairs) if learned else {}
    x, y = [], []
    for pair in pairs:
        for gold, row in zip(pair.gold, _features(pair, tables.get(id(pair))), strict=True):
            for target, vector in zip(pair.target.fields, row, strict=True):
                x.append(pairwise(vector[:width]) if products else vector[:width])
                y.append(int(target.name in gold))
    regression = LogisticRegression(C=1.0, max_iter=5000).fit(x, y)
    weights = tuple(float(w) for w in regression.coef_[0])
    model = PairModel(weights, float(regression.intercept_[0]), products=products)

    def scores(pair: Pair) -> Scores:
        return _scores(model, _features(pair, tables.get(id(pair))))

    threshold = pick_threshold(pairs, scores, [i / 100 for i in range(5, 96)])
    return PairModel(model.weights, model.bias, threshold, learn_table(pairs) if learned else {}, products)


def _scores(model: PairModel, features: list[list[list[float]]]) -> Scores:
    width = len(model.weights) if not model.products else None
    return [[model.probability(v[:width]) for v in row] for row in features]


def model_scores(model: PairModel, pair: Pair) -> Scores:
    return _scores(model, _features(pair, model.synonyms or None))


def _scored_by(model: PairModel, pair: Pair) -> Scores:
    return model_scores(model, pair)


def dev_report(train: Sequence[Pair]) -> None:
    """Leave one training system out: fit on the pairs without it, score the pairs with it. What tuning looks at."""
    systems = sorted({p.source.system for p in train})
    variants: tuple[tuple[int | None, str], ...] = ((PREVIOUS_FEATURES, "round-4 model"), (None, "ledgerlink"))
    for width, name in variants:
        totals = {"fields": 0, "top1": 0.0, "right": 0.0}
        for system in systems:
            inner = [p for p in train if system not in (p.source.system, p.target.system)]
            outer = [p for p in train if system in (p.source.system, p.target.system)]
            model = fit(inner, width, products=width is None)
            row = evaluate(outer, functools.partial(_scored_by, model), model.threshold)
            n = row["fields_with_counterpart"]
            totals["fields"] += n
            totals["top1"] += row["top1_accuracy"] * n
            totals["right"] += row["end_to_end_accuracy"] * n
            print(
                f"  dev {name:18} without {system:11} top-1 {row['top1_accuracy']:.3f}, "
                f"end-to-end {row['end_to_end_accuracy']:.3f} on {n} fields, threshold {model.threshold}, "
                f"abstention precision {row['abstention_precision']:.3f}",
                flush=True,
            )
        n = int(totals["fields"])
        print(f"dev {name:18} top-1 {totals['top1'] / n:.3f}, end-to-end {totals['right'] / n:.3f} on {n} fields")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-weights", action="store_true", help="write the fitted weights into the package")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--dev", action="store_true", help="only the leave-one-system-out figures on the training set")
    parser.add_argument("--fresh", action="store_true", help="also score the fresh split (data/schemas_fresh)")
    args = parser.parse_args(argv)
    train, held_out, blind = load_pairs()
    if args.dev:
        dev_report(train)
        return 0
    fresh = load_fresh_pairs() if args.fresh else []
    print(f"{len(train)} training pairs, {len(held_out)} held-out pairs, {len(blind)} blind pairs", flush=True)
    if args.fresh:
        print(f"{len(fresh)} fresh pairs", flush=True)
    started = time.perf_counter()
    model = fit(train)
    fit_seconds = time.perf_counter() - started
    previous = fit(train, PREVIOUS_FEATURES, products=False)
    if args.write_weights:
        WEIGHTS.write_text(json.dumps(model.to_json(), indent=2) + "\n")
        print(f"wrote {WEIGHTS}")
    grid = [i / 100 for i in range(5, 100, 5)]
    methods: list[tuple[str, Callable[[Pair], Scores], float]] = [
        ("rapidfuzz", rapidfuzz_scores, pick_threshold(train, rapidfuzz_scores, grid)),
        ("lexicon (unfitted)", lexicon_scores, pick_threshold(train, lexicon_scores, grid)),
        ("round-4 model", lambda p: model_scores(previous, p), previous.threshold),
        ("ledgerlink", lambda p: model_scores(model, p), model.threshold),
    ]
    rows = []
    for name, scorer, threshold in methods:
        splits = (("blind", blind), ("held-out", held_out), ("training", train))
        for split, pairs in ((("fresh", fresh),) if args.fresh else ()) + splits:
            started = time.perf_counter()
            row = {"method": name, "split": split, "threshold": threshold, **evaluate(pairs, scorer, threshold)}
            row["ms_per_pair"] = round((time.perf_counter() - started) * 1000 / max(len(pairs), 1), 1)
            rows.append(row)
            print(
                f"{name:20} {split:9} top-1 {row['top1_accuracy']:.3f}, end-to-end {row['end_to_end_accuracy']:.3f} "
                f"on {row['fields_with_counterpart']} fields, coverage {row['coverage']:.3f}, "
                f"abstention precision {row['abstention_precision']:.3f} ({row['abstentions']}), "
                f"suggestion precision {row['suggestion_precision']:.3f} (threshold {threshold})",
                flush=True,
            )
    per_pair = [{"pair": p.name, **evaluate([p], lambda q: model_scores(model, q), model.threshold)} for p in held_out]
    report = {
        "features": list(FEATURE_NAMES),
        "model": model.to_json(),
        "fit_seconds": round(fit_seconds, 2),
        "rows": rows,
        "held_out_pairs": per_pair,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
