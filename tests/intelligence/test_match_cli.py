"""``ledgerlink match customers``: JSON Lines in, links out; bad input is a clear error and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledgerlink.cli import app
from ledgerlink.intelligence.matching import io as customer_io

runner = CliRunner()

LEFT: list[dict[str, Any]] = [
    {
        "id": "001A",
        "code": "ACME01",
        "name": "Acme Widgets Ltd",
        "email": "accounts@acmewidgets.co.uk",
        "billing_address": {"lines": ["1 High Street"], "city": "Leeds", "postcode": "LS1 4AB", "country": "GB"},
    },
    {
        "id": "001B",
        "code": "GLOB01",
        "name": "Globex Limited",
        "phone": "01904 000111",
        "billing_address": {"lines": ["9 Mill Road"], "city": "York", "postcode": "YO1 7HH"},
    },
    {
        "id": "001C",
        "code": "HOOLI",
        "name": "Hooli Ltd",
        "billing_address": {"lines": ["5 Low Road"], "city": "Bristol", "postcode": "BS1 1AA"},
    },
]
RIGHT: list[dict[str, Any]] = [
    {
        "id": 17,
        "code": "C17",
        "name": "ACME Widgets Limited",
        "email": "accounts@acmewidgets.co.uk",
        "billing_address": {"lines": ["1 High St"], "city": "Leeds", "postcode": "LS14AB"},
    },
    {
        "id": 18,
        "code": "C18",
        "name": "Globex Ltd",
        "phone": "+44 1904 000111",
        "billing_address": {"lines": ["9 Mill Rd"], "postcode": "YO1 7HH"},
    },
    {
        "id": 19,
        "code": "C19",
        "name": "Initech plc",
        "billing_address": {"lines": ["4 Kings Road"], "city": "Bath", "postcode": "BA1 2AB"},
    },
]


def _jsonl(tmp_path: Path, name: str, rows: list[Any]) -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_links_to_stdout(tmp_path: Path) -> None:
    left, right = _jsonl(tmp_path, "l.jsonl", LEFT), _jsonl(tmp_path, "r.jsonl", RIGHT)
    result = runner.invoke(app, ["match", "customers", str(left), str(right)])
    assert result.exit_code == 0, result.output
    links = [json.loads(line) for line in result.stdout.splitlines()]
    assert {(link["left"], link["right"]) for link in links} == {("001A", "17"), ("001B", "18")}
    assert all(set(link) == {"left", "right", "score"} and 0.9 <= link["score"] <= 1 for link in links)
    assert "3 left, 3 right: 2 linked" in result.stderr


def test_links_to_a_file(tmp_path: Path) -> None:
    left, right = _jsonl(tmp_path, "l.jsonl", LEFT), _jsonl(tmp_path, "r.jsonl", RIGHT)
    out = tmp_path / "links.jsonl"
    result = runner.invoke(app, ["match", "customers", str(left), str(right), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(row["left"] for row in rows) == ["001A", "001B"]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["{nope"], "l.jsonl:1: not JSON"),
        (["[1, 2]"], "l.jsonl:1: each line must be a JSON object"),
        ([json.dumps({"code": "A", "name": "A"})], "l.jsonl:1: field 'id': a non-empty string or integer is required"),
        (
            [json.dumps({"id": "x", "code": "A", "name": "A", "billing_address": {"postcode": "P" * 30}})],
            "l.jsonl:1: id 'x': field 'billing_address.postcode': String should have at most 20 characters",
        ),
        ([json.dumps({"id": "x", "name": "No code"})], "l.jsonl:1: id 'x': field 'code': Field required"),
        (
            [json.dumps({"id": "x", "code": "A", "name": "A"}), "", json.dumps({"id": "x", "code": "B", "name": "B"})],
            "l.jsonl:3: field 'id': 'x' appears twice",
        ),
        ([json.dumps({"id": "x", "code": "A", "name": "A", "colour": "red"})], "field 'colour': Extra inputs"),
    ],
)
def test_bad_input_is_exit_2_naming_line_and_field(tmp_path: Path, lines: list[str], message: str) -> None:
    left = tmp_path / "l.jsonl"
    left.write_text("\n".join(lines) + "\n", encoding="utf-8")
    right = _jsonl(tmp_path, "r.jsonl", RIGHT)
    result = runner.invoke(app, ["match", "customers", str(left), str(right)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_missing_file_and_oversized_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    right = _jsonl(tmp_path, "r.jsonl", RIGHT)
    missing = runner.invoke(app, ["match", "customers", str(tmp_path / "none.jsonl"), str(right)])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    monkeypatch.setattr(customer_io, "MAX_LINE_BYTES", 64)
    big = _jsonl(tmp_path, "l.jsonl", LEFT)
    result = runner.invoke(app, ["match", "customers", str(big), str(right)])
    assert result.exit_code == 2 and "l.jsonl:1: line is over 64 bytes" in result.stderr


def test_record_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(customer_io, "MAX_RECORDS", 2)
    left, right = _jsonl(tmp_path, "l.jsonl", LEFT), _jsonl(tmp_path, "r.jsonl", RIGHT)
    result = runner.invoke(app, ["match", "customers", str(left), str(right)])
    assert result.exit_code == 2 and "l.jsonl:3: more than 2 records" in result.stderr
