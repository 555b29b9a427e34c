"""Round 12: the top-1 errors of a dumped leave-one-out run, sorted into classes (error analysis, no fitting).

    python benchmarks/mapping_suggestions_learned.py --systems a,b --dump DIR   # the run, keeping every fold's scores
    python benchmarks/mapping_suggestions_errors.py DIR [--examples 3] [--tsv PATH]

For each fold in ``DIR`` and each left-out pair, every source field with a counterpart whose best-scored target is
not a right one is an error; each error goes to the first class (in this order) whose test it meets:

- ``sibling``: the pick holds a concept that is the source's concept in another role (``bill.street`` for
  ``ship.street``, ``addr.city`` for ``bill.city``: the same last part), or the same concept at another level;
- ``unlabelled twin``: the pick has no concept in the answer key but the same canonical words as the source (the
  gold may be doubtful, or the pick a second field for the same thing);
- ``type clash``: the pick's declared kind cannot hold the source's (``features.type_fit`` 0) while a right target's
  can;
- ``level``: nested or flattened: every right target sits at another list depth or dotted depth than the source
  (``customer.name`` against ``customer_name``) and the pick at the same;
- ``own id or link``: the source is the record's own id or its link to the customer (``InvoiceID``, ``OrderedBy``),
  and the pick another record's id, a link or a number;
- ``no shared word``: the source and its right targets share no canonical word, no raw leaf word and no label word
  (a synonym nobody taught, a vendor's own name for it);
- ``other concept, same words``: the pick holds another concept yet shares more of the source's canonical words than
  any right target does (the words mislead: ``tax`` rate against amount, ``date`` due against issued);
- ``unknown token``: a leaf word of the source or of a right target that the fold's vocabulary does not know and the
  lexicon does not read (an abbreviation, a run-together or foreign word: ``qty``, ``addr1``, ``belopp``);
- ``unlabelled pick``: the pick holds no concept in the answer key (a distractor with the source's words, or a gold
  that may be doubtful: read the examples);
- ``other``: the pick holds another concept, for no reason above.

Kinds are read with the code on the path (this branch's ``features.kind``), whatever code produced the scores.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

import mapping_suggestions as ms  # this folder, as a script
from ledgerlink.intelligence.suggest.features import field_words, type_fit
from ledgerlink.intelligence.suggest.tokens import _LEXICON, canonical_words, split_words, using

CLASSES = (
    "sibling",
    "unlabelled twin",
    "type clash",
    "level",
    "own id or link",
    "no shared word",
    "other concept, same words",
    "unknown token",
    "unlabelled pick",
    "other",
)


def _concepts() -> dict[str, dict[str, list[str]]]:
    import json

    out: dict[str, dict[str, list[str]]] = {}
    for folder in (ms.DATA, ms.FRESH, ms.HELD3, ms.HELD4, ms.HELD5, ms.HELD6):  # never held7
        out.update(json.loads((folder / "gold.json").read_text()))
    return out


def _role(concept: str) -> str:
    return concept.rsplit(".", 1)[-1]


def _depth(name: str) -> tuple[int, int]:
    return name.count("[]"), name.count(".")


def _leaf_words(name: str) -> set[str]:
    with using(None):
        return set(split_words(ms_leaf(name)).split())


def ms_leaf(name: str) -> str:
    import re

    return re.split(r"[.\]]", name)[-1] or name


def classify(pair: ms.Pair, i: int, pick: int, concepts: dict[str, dict[str, list[str]]], known: set[str]) -> str:
    source, target = pair.source, pair.target
    sf, pf = source.fields[i], target.fields[pick]
    right = [f for f in target.fields if f.name in pair.gold[i]]
    sc = concepts.get(f"{source.system}/{source.object}", {}).get(sf.name, [])
    pc = concepts.get(f"{target.system}/{target.object}", {}).get(pf.name, [])
    swords = field_words(source, None)[i]
    twords = field_words(target, None)
    pwords = twords[pick]
    index = {f.name: j for j, f in enumerate(target.fields)}
    if pc and ({_role(c) for c in sc} & {_role(c) for c in pc}):
        return "sibling"
    if not pc and pwords and pwords == swords:
        return "unlabelled twin"
    if type_fit(sf, pf) == 0.0 and any(type_fit(sf, r) > 0.0 for r in right):
        return "type clash"
    if all(_depth(r.name) != _depth(sf.name) for r in right) and _depth(pf.name) == _depth(sf.name):
        return "level"
    if {"id", "customer"} & {c.rsplit(".", 1)[-1] for c in sc[:1]}:
        return "own id or link"
    with using(None):
        slabel = set(split_words(sf.label).split())
        shared = any(
            swords & twords[index[r.name]]
            or _leaf_words(sf.name) & _leaf_words(r.name)
            or (slabel & set(split_words(r.label).split())) - _STOP
            for r in right
        )
    if not shared:
        return "no shared word"
    best_right = max(len(swords & twords[index[r.name]]) for r in right)
    if pc and len(swords & pwords) > best_right:
        return "other concept, same words"
    for name in (sf.name, *(r.name for r in right)):
        for w in _leaf_words(name):
            if w.isalpha() and w not in known and w not in _LEXICON and canonical_words(w) == (w,):
                return "unknown token"
    return "unlabelled pick" if not pc else "other"


_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "for",
        "to",
        "in",
        "on",
        "is",
        "are",
        "be",
        "by",
        "or",
        "and",
        "this",
        "that",
        "it",
        "its",
        "as",
        "at",
        "with",
        "from",
        "when",
        "which",
        "if",
        "not",
        "no",
        "will",
        "can",
        "was",
        "has",
        "have",
        "used",
        "use",
        "any",
        "all",
    ]
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump", type=Path)
    parser.add_argument("--examples", type=int, default=3)
    parser.add_argument("--tsv", type=Path, help="every error, one a line")
    args = parser.parse_args(argv)
    pairs = ms.load_all_pairs()
    concepts = _concepts()
    rows: list[list[Any]] = []
    totals: Counter[str] = Counter()
    by_fold: dict[str, Counter[str]] = defaultdict(Counter)
    examples: dict[str, list[str]] = defaultdict(list)
    fields: Counter[str] = Counter()
    distinct: dict[str, set[tuple[str, str]]] = defaultdict(set)  # the left-out system's fields in each class
    for path in sorted(args.dump.glob("*.pkl")):
        fold = path.stem
        data = pickle.loads(path.read_bytes())
        inner_pairs = [p for p in pairs if fold not in (p.source.system, p.target.system)]
        vocabulary = ms.learn_vocabulary(inner_pairs)
        known = set(vocabulary.counts) if vocabulary is not None else set()
        for k, scores in sorted(data["outer"].items()):
            pair = pairs[k]
            s = np.asarray(scores)
            for i, gold in enumerate(pair.gold):
                if not gold:
                    continue
                fields[fold] += 1
                pick = int(s[i].argmax())
                if pair.target.fields[pick].name in gold:
                    continue
                label = classify(pair, i, pick, concepts, known)
                totals[label] += 1
                by_fold[fold][label] += 1
                sf, pf = pair.source.fields[i], pair.target.fields[pick]
                sc = concepts.get(f"{pair.source.system}/{pair.source.object}", {}).get(sf.name, [])
                pc = concepts.get(f"{pair.target.system}/{pair.target.object}", {}).get(pf.name, [])
                line = (
                    f"{pair.source.system}/{pair.source.object}.{sf.name} [{sf.type}; {'/'.join(sc[:1])}] → picked "
                    f"{pair.target.system}.{pf.name} [{pf.type}; {'/'.join(pc[:1]) or '-'}], right: "
                    f"{', '.join(sorted(gold))}"
                )
                rows.append([fold, label, line])
                own = (
                    f"{pair.source.object}.{sf.name}"
                    if pair.source.system == fold
                    else f"{pair.target.object}.{'|'.join(sorted(gold))}"
                )
                distinct[label].add((fold, own))
                if len(examples[label]) < 400:
                    examples[label].append(line)
    errors = sum(totals.values())
    print(f"{errors} top-1 errors over {sum(fields.values())} fields with a counterpart ({dict(fields)})")
    rng = np.random.default_rng(12)
    for label in CLASSES:
        n = totals[label]
        per = ", ".join(f"{fold} {by_fold[fold][label]}" for fold in sorted(by_fold))
        print(f"  {label:26} {n:5} ({n / max(errors, 1):.0%}; {per}; {len(distinct[label])} left-out fields)")
        shown = examples[label]
        for k in rng.choice(len(shown), size=min(args.examples, len(shown)), replace=False) if shown else []:
            print(f"      {shown[int(k)]}")
    if args.tsv:
        args.tsv.write_text("".join("\t".join(map(str, row)) + "\n" for row in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
