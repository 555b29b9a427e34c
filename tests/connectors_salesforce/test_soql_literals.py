"""Data that reaches a SOQL query goes through one module: quotes can't break out, ids are checked."""

from __future__ import annotations

import pytest

from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.salesforce import soql


def test_strings_are_quoted_and_escaped() -> None:
    assert soql.string("O'Hara & Sons") == "'O\\'Hara & Sons'"
    assert soql.string("back\\slash") == "'back\\\\slash'"
    assert soql.escape_like("50% off_now") == "50\\% off\\_now"


def test_ids_are_checked_before_they_reach_a_query() -> None:
    assert soql.id_list(["0015g0000000001AAA", "001000000000001"]) == "'0015g0000000001AAA', '001000000000001'"
    for bad in ["001' OR Name != '", "abc", ""]:
        with pytest.raises(PermanentError) as caught:
            soql.record_id(bad)
        assert caught.value.field == "Id"
