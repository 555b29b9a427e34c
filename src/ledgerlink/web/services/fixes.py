"""A suggested fix for a failed record, computed from its error and its data; applied in one click where safe.

Safe means: a single value of the source record is corrected to one the check accepts, with a clear best answer
(a misspelt country's closest name, a VAT number's spacing). Anything that would lose data (cutting a too-long
name) or guess a relationship is suggested for a person to do, never applied.

An unknown product code is the one fix not written to the source: the catalogue in the books is the reference and
the source's code may be right for the CRM, so the line's code is rewritten for this record's replay only
(``kind="product_code"``, kept in the audit entry the replay reads: ``flows.fix_rewrites``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

from ledgerlink.mapping.transforms.countries import COUNTRY_NAMES, country_to_iso
from ledgerlink.store import FailedRecordRow

# Jaro-Winkler similarity (0-1) of a misspelt country name to its closest, and its lead over the next closest:
# typos and swapped letters ("Untied Kingdom", "Frnace") score ≥ 0.9; "Iran"/"Iraq" are too close to choose.
MIN_COUNTRY_SCORE = 0.9
MIN_MARGIN = 0.03


@dataclass(frozen=True)
class Fix:
    message: str  # what is wrong and what would fix it
    safe: bool  # may be applied in one click
    source_field: str | None = None  # the field of the source record to set
    value: Any = None  # the value to set it to
    confidence: float | None = None
    kind: str = "source"  # "source": set source_field in the source record; "product_code": rewrite a line's code
    replaces: str | None = None  # for "product_code": the code the books don't know


def _last_error(row: FailedRecordRow) -> tuple[str, str | None]:
    if not row.errors:
        return "", None
    last = row.errors[-1]
    return str(last.get("error") or ""), last.get("field")


def _source_field(row: FailedRecordRow, bad: str) -> str | None:
    """The field of the stored input that holds the refused value."""
    for name, value in (row.input or {}).items():
        if isinstance(value, str) and value == bad:
            return name
    return None


def _country(row: FailedRecordRow, error: str) -> Fix | None:
    found = re.search(r"unknown country(?: code)? '([^']{1,100})'", error)
    if not found:
        return None
    bad = found.group(1)
    names = list(COUNTRY_NAMES.values())
    top = process.extract(bad, names, scorer=JaroWinkler.normalized_similarity, processor=str.casefold, limit=2)
    field = _source_field(row, bad)
    clear = top and top[0][1] >= MIN_COUNTRY_SCORE and (len(top) < 2 or top[0][1] - top[1][1] >= MIN_MARGIN)
    if not clear:
        return Fix(
            f"unknown country {bad!r}: no country name is clearly closest; set it in the source record", False, field
        )
    name, score = str(top[0][0]), float(top[0][1])
    code = country_to_iso(name)
    return Fix(
        f"unknown country {bad!r}: the closest is {name} ({code}, {score:.2f})",
        field is not None,
        field,
        name,
        score,
    )


def _too_long(row: FailedRecordRow, error: str, field: str | None) -> Fix | None:
    found = re.search(r"at most (\d+) characters", error)
    if not found:
        return None
    limit = int(found.group(1))
    value = re.search(r"got '([^']*)'", error)
    source = _source_field(row, value.group(1)) if value else None
    return Fix(
        f"{field or 'a field'} is longer than the {limit} characters the target accepts: shorten it in the source "
        f"record{f' ({source})' if source else ''} (cutting it would lose data, so this is left to you)",
        False,
        source,
    )


_GB_VAT = re.compile(r"^GB(\d{9}|\d{12}|GD\d{3}|HA\d{3})$")


def _vat(row: FailedRecordRow, error: str, field: str | None) -> Fix | None:
    if not field or "vat" not in field.casefold():
        return None
    value = re.search(r"got '([^']*)'", error)
    bad = value.group(1) if value else None
    if bad is None:
        return None
    cleaned = re.sub(r"[\s.\-]", "", bad).upper()
    if cleaned.isdigit():
        cleaned = "GB" + cleaned
    source = _source_field(row, bad)
    if _GB_VAT.match(cleaned):
        return Fix(
            f"VAT number {bad!r} doesn't fit the GB format; written as {cleaned} it does", bool(source), source, cleaned
        )
    return Fix(f"VAT number {bad!r} doesn't fit the GB format (GB and 9 digits)", False, source)


def _missing(row: FailedRecordRow, error: str, field: str | None) -> Fix | None:
    if "required value is missing" in error or "lacks an Account" in error or "no Account" in error:
        what = field or "a required field"
        return Fix(
            f"{what} is empty in {row.source_system} {row.source_object} {row.source_id}: fill it there, then replay",
            False,
        )
    return None


MIN_ACCOUNT_SCORE = 0.9  # Jaro-Winkler of the record's name to an Account's, for a one-click link
MAX_ACCOUNTS = 5000  # Accounts read to look for a name (bounded)
Accounts = Callable[[], list[tuple[str, str]]]  # (Id, Name) of the CRM's Accounts, read only when needed


def _no_account(row: FailedRecordRow, field: str | None, accounts: Accounts | None) -> Fix | None:
    """A record that lacks its Account (no customer): the Account whose name is closest to the record's own."""
    data = row.input or {}
    if field not in ("customer_code", "AccountId") or data.get("AccountId") or accounts is None:
        return None
    name = str(data.get("Name") or "")
    pool = accounts()[:MAX_ACCOUNTS] if name else []
    if not pool:
        return None
    names = [n for _, n in pool]
    top = process.extract(name, names, scorer=JaroWinkler.normalized_similarity, processor=str.casefold, limit=2)
    best_name, score, index = str(top[0][0]), float(top[0][1]), int(top[0][2])
    if score < MIN_ACCOUNT_SCORE or (len(top) > 1 and score - float(top[1][1]) < MIN_MARGIN):
        message = f"no Account: link the {row.source_object} to its Account in {row.source_system}, then replay"
        return Fix(message, False, "AccountId")
    account_id = pool[index][0]
    message = f"no Account: the {row.source_object}'s name matches Account {best_name} ({account_id}, {score:.2f})"
    return Fix(message, True, "AccountId", account_id, score)


# A product code the books lack: its closest product, by code (spelling) or by the line's product name.
MIN_PRODUCT_SCORE = 0.9
MAX_PRODUCTS = 5000  # the books' products read to look for the closest (bounded)
Products = Callable[[], list[tuple[str, str]]]  # (code, name) of the books' products, read only when needed
_UNKNOWN_PRODUCT = re.compile(r"(?:no|unknown) product(?: code)? '([^']{1,100})'", re.I)


def _code_key(code: str) -> str:
    return re.sub(r"[^0-9a-z]", "", code.casefold())


def _name_near(data: Any, code: str, depth: int = 0) -> str:
    """The name beside ``code`` in the stored input (a line's product: ``{"Name": ..., "ProductCode": code}``)."""
    if depth > 6:
        return ""
    if isinstance(data, dict):
        if code in (v for v in data.values() if isinstance(v, str)):
            name = data.get("Name") or data.get("name")
            if isinstance(name, str) and name != code:
                return name
        children = list(data.values())
    elif isinstance(data, list):
        children = data[:200]
    else:
        return ""
    return next((found for child in children if (found := _name_near(child, code, depth + 1))), "")


def _product(row: FailedRecordRow, error: str, products: Products | None) -> Fix | None:
    found = _UNKNOWN_PRODUCT.search(error)
    if not found:
        return None
    bad = found.group(1)
    pool = products()[:MAX_PRODUCTS] if products is not None else []
    if not pool:
        return Fix(f"unknown product code {bad!r}: add it to the books' products or correct it in the source", False)
    name = _name_near(row.input or {}, bad)
    key = _code_key(bad)

    def score(code: str, product_name: str) -> float:
        by_code = fuzz.ratio(key, _code_key(code)) / 100
        by_name = fuzz.token_sort_ratio(name, product_name, processor=str.casefold) / 100 if name else 0.0
        return max(by_code, by_name)

    ranked = sorted(((score(c, n), c, n) for c, n in pool), reverse=True)
    best, code, product_name = ranked[0]
    runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
    closest = f"the closest is {code} ({product_name}, {best:.2f})"
    if best < MIN_PRODUCT_SCORE or best - runner_up < MIN_MARGIN:
        why = "not close enough" if best < MIN_PRODUCT_SCORE else f"another scores {runner_up:.2f}"
        return Fix(f"unknown product code {bad!r}: {closest}, but {why}: correct the line yourself", False)
    message = f"unknown product code {bad!r}: {closest}; the line is invoiced as {code} when replayed"
    return Fix(message, True, "product_code", code, best, kind="product_code", replaces=bad)


def suggest(row: FailedRecordRow, accounts: Accounts | None = None, products: Products | None = None) -> Fix | None:
    """The fix for the record's latest error, if one is known. ``accounts`` reads the CRM's Accounts (for a record
    that lacks one), ``products`` the books' products (for an unknown product code); without them those fixes
    aren't looked for."""
    error, field = _last_error(row)
    return (
        _country(row, error)
        or _product(row, error, products)
        or _vat(row, error, field)
        or _no_account(row, field, accounts)
        or _too_long(row, error, field)
        or _missing(row, error, field)
    )
