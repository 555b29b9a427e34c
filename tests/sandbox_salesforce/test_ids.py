from ledgerlink.sandbox.salesforce import ids


def test_published_example_checksum() -> None:
    assert ids.to18("0013000000Lk9Vn") == "0013000000Lk9VnAAJ"


def test_all_lower_case_or_digits_gives_aaa() -> None:
    assert ids.checksum("001000000000001") == "AAA"


def test_every_upper_case_position_sets_its_bit() -> None:
    # Chunk bits read right to left: 'A' at position i sets bit i; five upper-case letters give 31 -> '5'.
    assert ids.checksum("ABCDE00000abcde") == "5AA"
    assert ids.checksum("0000A0000A0000A") == "QQQ"
    assert ids.checksum("A0000000000000Z") == "BAQ"


def test_validity_and_normalisation() -> None:
    assert ids.is_valid_id("0013000000Lk9Vn")
    assert ids.is_valid_id("0013000000Lk9VnAAJ")
    assert not ids.is_valid_id("0013000000Lk9VnAAA")  # wrong checksum
    assert not ids.is_valid_id("001-bad")
    assert ids.normalize("0013000000Lk9Vn") == "0013000000Lk9VnAAJ"


def test_generated_ids_sort_in_creation_order() -> None:
    generated = [ids.make_id("001", n) for n in (1, 9, 10, 35, 36, 61, 62, 3843, 3844)]
    assert generated == sorted(generated)
    assert all(len(i) == 18 and ids.is_valid_id(i) for i in generated)
