"""Round 9: the concepts each word votes for, learned from labelled schemas (``intelligence.suggest.concepts``)."""

from __future__ import annotations

from ledgerlink.intelligence.suggest import concepts, parse_schema
from ledgerlink.intelligence.suggest.features import FEATURE_NAMES, feature_matrix, field_tokens
from ledgerlink.intelligence.suggest.model import PairModel

CONCEPT_FIT = FEATURE_NAMES.index("concept_fit")


def _table() -> concepts.Table:
    """Three labelled systems: "issued" and "dated" name the invoice date in two of them, "remit" the due date; "the"
    is in every label; "colour" is on fields that hold no concept."""
    schemas = [
        (
            [{"issued", "the", "date"}, {"due", "the", "date"}, {"colour", "the"}],
            [["invoice.date"], ["invoice.due_date"], []],
        ),
        (
            [{"dated", "the"}, {"remit", "by", "the"}, {"colour", "the", "shade"}],
            [["invoice.date"], ["invoice.due_date"], []],
        ),
        (
            [{"issued", "dated", "on", "the"}, {"remit", "due", "the"}, {"shade", "the"}],
            [["invoice.date"], ["invoice.due_date"], []],
        ),
    ]
    return concepts.learn(concepts.count([frozenset(w) for w in words], held) for words, held in schemas)


def test_words_vote_for_the_concepts_of_the_fields_that_use_them() -> None:
    table = _table()
    weight, shares = table["issued"]
    assert shares == {"invoice.date": round(2 / 3, 4)}  # two fields, both the date, smoothed by one "none"
    assert table["remit"][1] == {"invoice.due_date": round(2 / 3, 4)}
    assert table["colour"][1] == {}  # only on fields holding no concept: all its mass is "none"
    assert "by" not in table  # one field only: too rare to say anything
    assert table["the"][0] < weight  # a word on every field weighs less than a rarer one


def test_fields_fit_by_what_their_words_voted_for_not_by_shared_words() -> None:
    table = _table()
    issued = concepts.vector(frozenset({"issued", "the"}), table)
    dated = concepts.vector(frozenset({"dated"}), table)
    remit = concepts.vector(frozenset({"remit"}), table)
    colour = concepts.vector(frozenset({"colour", "shade"}), table)
    # No word in common, the same concept: they fit; the due date does not fit the issue date.
    assert concepts.fit(issued, dated) > 0.75  # (the third each leaves to "none" keeps it under 1)
    assert concepts.fit(issued, remit) < 0.1
    # Two fields that both look like no concept do not fit, however alike ("none" never agrees).
    assert concepts.fit(colour, colour) == 0.0
    # A field with no known word has no vote.
    assert concepts.vector(frozenset({"zzz"}), table) == ({}, 0.0)
    assert concepts.fit(concepts.vector(frozenset({"zzz"}), table), dated) == 0.0


def test_counts_of_schemas_add_up() -> None:
    a = concepts.count([frozenset({"x"})], [["c1", "c2"]])
    b = concepts.count([frozenset({"x"}), frozenset({"y"})], [["c1"], []])
    total = a + b
    assert total.fields == 3 and total.words == {"x": 2, "y": 1}
    assert total.concepts["x"] == {"c1": 1.5, "c2": 0.5}  # a field with two concepts counts half for each


INVOICE_A = {
    "system": "a",
    "object": "Invoice",
    "fields": [
        {"name": "issued", "label": "The date the invoice was issued"},
        {"name": "remit_by", "label": "Remit by"},
    ],
}
INVOICE_B = {
    "system": "b",
    "object": "Invoice",
    "fields": [
        {"name": "dated", "label": "Dated"},
        {"name": "due", "label": "Due"},
    ],
}


def test_feature_matrix_reads_the_concepts_from_names_and_labels() -> None:
    source, target = parse_schema(INVOICE_A), parse_schema(INVOICE_B)
    tokens = field_tokens(source)
    assert tokens == [frozenset({"issued"}), frozenset({"remit", "by"})]  # the names' words (labels diluted them)
    table = _table()
    with_concepts = feature_matrix(source, target, None, None, table)
    without = feature_matrix(source, target)
    assert [[v[CONCEPT_FIT] for v in row] for row in without] == [[0.0, 0.0], [0.0, 0.0]]
    fits = [[v[CONCEPT_FIT] for v in row] for row in with_concepts]
    assert fits[0][0] > fits[0][1]  # issued ~ dated (the invoice date)
    assert fits[1][1] > fits[1][0]  # remit by ~ due (the due date)


def test_same_level_tells_header_fields_from_line_fields() -> None:
    level = FEATURE_NAMES.index("same_level")
    source = parse_schema({"system": "a", "object": "Invoice", "fields": [{"name": "date"}, {"name": "lines[].date"}]})
    target = parse_schema(
        {"system": "b", "object": "Invoice", "fields": [{"name": "issued"}, {"name": "items[].when"}]}
    )
    assert [[v[level] for v in row] for row in feature_matrix(source, target)] == [[1.0, 0.0], [0.0, 1.0]]


def test_the_concepts_ship_with_the_model() -> None:
    table = _table()
    model = PairModel((0.0,) * len(FEATURE_NAMES), 0.0, concepts=table)
    again = PairModel.from_json(model.to_json())
    assert again.concepts == {w: (v[0], dict(v[1])) for w, v in table.items()}
    assert PairModel.from_json(PairModel((0.0,) * len(FEATURE_NAMES), 0.0).to_json()).concepts is None
