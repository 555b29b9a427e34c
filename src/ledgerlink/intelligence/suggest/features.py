"""Evidence that a source field and a target field hold the same thing, as numbers in 0..1.

Words: TF-IDF cosine of the canonical words of the whole path, of the last segment and of the label (IDF over both
schemas, so words every field shares, like "billing", weigh less than "postcode"). Spelling: a character ratio of
the last segments. Label cover (round 8): how much of one field's words the other's label says, for the long
prose labels a cosine dilutes. Level (round 9): whether both fields sit as deep in lists (a header field or a line's).
Kind: whether the declared types and the sample values can hold the same data.
Context: whether this target is the source's best by words, and the source the target's (mutual best).
Learned representation (round 10): the cosine of the two fields' trained vectors (``embedding``), and whether the
target is the source's best by it.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from ledgerlink.intelligence.suggest import embedding, synonyms
from ledgerlink.intelligence.suggest.schema import ObjectSchema, SchemaField
from ledgerlink.intelligence.suggest.segment import Vocabulary
from ledgerlink.intelligence.suggest.tokens import canonical_words, split_words, using

FEATURE_NAMES = (
    "path_words",
    "leaf_words",
    "label_words",
    "leaf_spelling",
    "type_fit",
    "sample_fit",
    "best_for_source",
    "best_for_target",
    "margin",
    "both_identifiers",
    "side_fit",
    "learned_words",
    "label_covers",
    "same_level",
    "embedding_cosine",
    "embedding_best",
)

# A system's own type words → a coarse kind.
_KINDS = {
    "string": "text", "str": "text", "textarea": "text", "text": "text", "combobox": "text", "encryptedstring": "text",
    "picklist": "choice", "multipicklist": "choice", "enum": "choice",
    "email": "email", "phone": "phone", "url": "url", "uri": "ref",
    "int": "number", "integer": "number", "long": "number", "double": "number", "number": "number", "float": "number",
    "decimal": "number", "percent": "number", "currency": "money", "money": "money",
    "boolean": "bool", "bool": "bool", "checkbox": "bool",
    "date": "date", "datetime": "datetime", "date-time": "datetime", "timestamp": "datetime", "time": "datetime",
    "id": "ref", "reference": "ref", "uuid": "ref", "object": "object", "base": "object", "array": "object",
    "address": "object", "map": "object",
    # An ORM's and SQL's type words.
    "char": "text", "varchar": "text", "html": "text", "selection": "choice", "many2one": "ref",
    "many2many": "object", "one2many": "object", "monetary": "money", "numeric": "number", "bigint": "number",
}  # fmt: skip
_COMPATIBLE = {
    frozenset(pair)
    for pair in (
        ("text", "choice"), ("text", "email"), ("text", "phone"), ("text", "url"), ("number", "money"),
        ("date", "datetime"), ("ref", "object"), ("text", "ref"), ("ref", "number"), ("choice", "object"),
        ("text", "number"),
    )
}  # fmt: skip
# Round 12: kinds that real counterparts often cross because one system encodes the value (a date as text or as a
# Unix number, a status as a choice or a flag, a money amount as a decimal string, a code inside an object): weaker
# than compatible, stronger than a clash such as a date against an amount or an e-mail against a number.
_ENCODED = {
    frozenset(pair)
    for pair in (
        ("datetime", "text"), ("date", "text"), ("datetime", "number"), ("date", "number"), ("money", "text"),
        ("object", "text"), ("number", "object"), ("money", "object"), ("bool", "choice"), ("bool", "text"),
        ("bool", "number"), ("choice", "number"), ("choice", "ref"),
    )
}  # fmt: skip


# Round 12: type words of API specs and typed languages the table above did not read (a third of the fields of some
# vendors had no kind, so ``type_fit`` could not tell a date from an amount there).
_MORE_KINDS = {
    "int16": "number", "int32": "number", "int64": "number", "guid": "ref", "check": "bool", "select": "choice",
    "option set": "choice",
}  # fmt: skip
# A format says a URI is a web address (``string (uri)``); a bare ``URI`` type is a link to a record, as above.
_URI_FORMATS = frozenset({"uri", "uri-reference", "url"})
# ``base (detail)``: a type and its format or what it links to (``string (date-time)``, ``Link (Account)``).
_DETAILED = re.compile(r"^(.*?)\s*\((.*)\)$")


def kind(field: SchemaField) -> str:
    return _kind(field.type)


@functools.lru_cache(maxsize=4096)
def _kind(text: str) -> str:
    """A declared type's coarse kind, or "" when it says nothing known. Besides the plain type words: a nullable type
    (``DateTime?``, ``number | null``) is its type; a list or map (``X[]``, ``array of string``, ``Array<number>``,
    ``dictionary``, ``{...}``) an object; an OpenAPI-style ``base (format)`` its format's kind, else its base's
    (``string (date-time)``, ``integer (int32)``, ``number (double)``); an enum (``Currency (enum)``, ``enum X``,
    ``int32 (option set)``) a choice; a link (``Link (Account)``, ``relate (Users)``, ``string (expandable X)``) a
    reference; a namespaced word (``singer.decimal``) its last part."""
    word = text.strip().casefold().removeprefix("xsd:").removeprefix("tns:")
    if word.startswith("list[") or word.endswith("ref"):
        return "object"
    if word in _KINDS or word in _MORE_KINDS:
        return _KINDS.get(word) or _MORE_KINDS[word]
    word = word.removesuffix("?").removesuffix("| null").strip()
    if word in _KINDS or word in _MORE_KINDS:
        return _KINDS.get(word) or _MORE_KINDS[word]
    if word.endswith("[]") or word.startswith(("array", "{", "dictionary")):
        return "object"
    detailed = _DETAILED.match(word)
    if detailed:
        base, detail = detailed[1].strip(), detailed[2].strip()
        if detail == "enum" or base == "enum":
            return "choice"
        if base in ("link", "relate") or detail.startswith("expandable"):
            return "ref"
        if detail in _URI_FORMATS:
            return "url"
        return (_kind(detail) if detail else "") or (_kind(base) if base else "")
    if word.startswith("enum "):
        return "choice"
    if "." in word:
        return _kind(word.rsplit(".", 1)[-1])
    return ""


def type_fit(a: SchemaField, b: SchemaField) -> float:
    ka, kb = kind(a), kind(b)
    if not ka or not kb:
        return 0.5
    if ka == kb:
        return 1.0
    pair = frozenset({ka, kb})
    return 0.6 if pair in _COMPATIBLE else 0.3 if pair in _ENCODED else 0.0


_SAMPLE_PATTERNS = (
    ("email", re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I)),
    ("url", re.compile(r"^(https?://|www\.)\S+$", re.I)),
    ("datetime", re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")),
    ("date", re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}/\d{1,2}/\d{2,4}$")),
    ("bool", re.compile(r"^(true|false)$", re.I)),
    ("currency", re.compile(r"^[A-Z]{3}$")),
    ("money", re.compile(r"^-?[$£€¥]\s?-?[\d,]+(\.\d+)?$")),
    ("country", re.compile(r"^[A-Z]{2}$")),
    ("percent", re.compile(r"^-?\d+(\.\d+)?\s?%$")),
    ("postcode", re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$|^\d{5}(-\d{4})?$", re.I)),
    ("phone", re.compile(r"^\+?[\d ()\-.]{7,}$")),
    ("number", re.compile(r"^-?\d+(\.\d+)?$")),
)


def sample_kind(samples: Sequence[str]) -> str:
    kinds = Counter(
        next((name for name, pattern in _SAMPLE_PATTERNS if pattern.match(s.strip())), "text") for s in samples if s
    )
    return kinds.most_common(1)[0][0] if kinds else ""


def sample_fit(a: SchemaField, b: SchemaField) -> float:
    ka, kb = sample_kind(a.samples), sample_kind(b.samples)
    if not ka or not kb:
        return 0.5
    if ka == kb:
        return 1.0
    # A five-digit zip reads as a number, a short code as a currency: a mismatch is weak evidence, not proof.
    return (
        0.3 if {ka, kb} <= {"number", "postcode", "phone", "text", "currency", "country", "percent", "money"} else 0.0
    )


_PURCHASE = frozenset({"purchase", "cost", "vendor", "supplier", "bought", "buy"})
_SALES = frozenset({"sales", "sale", "income", "revenue", "sell", "selling", "sold"})


def _side(words: Counter[str]) -> str:
    purchase, sales = bool(_PURCHASE & words.keys()), bool(_SALES & words.keys())
    return "" if purchase == sales else "purchase" if purchase else "sales"


def side_fit(a: Counter[str], b: Counter[str]) -> float:
    """Sales or purchase side. A field that names neither is on the sales side: LedgerLink bills customers, so a
    bare "price" or "account" is the selling price and the income account, not the cost and the expense account."""
    sa, sb = _side(a) or "sales", _side(b) or "sales"
    return 1.0 if sa == sb else 0.0


def is_identifier(field: SchemaField, schema: ObjectSchema) -> bool:
    """The record's own id: ``Id``, ``ContactID`` in Contact, ``contact_id``, type ``id``, or a label saying so."""
    if field.type.casefold() == "id":
        return True
    if "unique identifier" in field.label.casefold() or "[]" in field.name or "." in field.name:
        return "unique identifier" in field.label.casefold()
    words = split_words(field.name).split()
    own = split_words(schema.object).split()
    return words == ["id"] or words == [*own, "id"]


def _own_id(field: SchemaField, schema: ObjectSchema) -> bool:
    """The record's own id by its name (``Id``, ``ContactID`` in Contact) or by a label saying it is the unique
    identifier of this object; a link typed ``id`` (another record's) is not."""
    words = split_words(field.name).split()
    own = split_words(schema.object).split()
    if words in (["id"], [*own, "id"]):
        return True
    label = split_words(field.label)
    return "." not in field.name and "[]" not in field.name and f"unique identifier for the {' '.join(own)}" in label


def _leaf(name: str) -> str:
    return re.split(r"[.\]]", name)[-1] or name


# Leaves that are only a key or only a value: inside a wrapper object the parent says what is keyed or held.
_WRAPPED_LEAVES = frozenset({("id",), ("code",), ("number",), ("amount",), ("value",)})


def _parent(name: str) -> str:
    """The segment a dotted leaf hangs from (``TaxCode`` of ``SellingDetails.TaxCode.Code``), or ""."""
    group = _group(name)
    if not group.endswith("."):
        return ""
    return re.split(r"[.\]]", group[:-1])[-1].removesuffix("[")


@dataclass
class _Doc:
    path: Counter[str]
    leaf: Counter[str]
    label: Counter[str]


def _cosine(a: Counter[str], b: Counter[str], idf: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(a[w] * b[w] * idf.get(w, 1.0) ** 2 for w in a.keys() & b.keys())
    if not dot:
        return 0.0
    na = math.sqrt(sum((c * idf.get(w, 1.0)) ** 2 for w, c in a.items()))
    nb = math.sqrt(sum((c * idf.get(w, 1.0)) ** 2 for w, c in b.items()))
    return dot / (na * nb)


_BARE_COMPANY = frozenset({"organisation", "organization", "company", "company name"})


def _doc(field: SchemaField) -> _Doc:
    label = canonical_words(field.label) if field.label else ()
    path, leaf = canonical_words(field.name), canonical_words(_leaf(field.name))
    if path == ("amount",) and _leaf(field.name) == field.name:
        # A record's own bare "amount" is its total (an invoice's, an opportunity's); a line's stays an amount.
        path = leaf = ("total",)
    if split_words(field.name) in _BARE_COMPANY and kind(field) != "bool":
        # A bare "organisation" or "company" holds the company's name, as "company name" does.
        path = leaf = ("name",)
    if len(path) > 1 and path[-1] == "id":
        # A link to another record (``country_id``, ``ParentId``, ``currencyId``) names that record; its "id" only
        # says "link" (since round 7 whatever its type: a GUID, a string, an integer; the record's own id is read
        # schema-wide in ``_docs``).
        path, leaf = path[:-1], leaf[:-1] if leaf[-1:] == ("id",) and len(leaf) > 1 else leaf
    parent = _parent(field.name)
    if parent and leaf in _WRAPPED_LEAVES:
        # A key inside a wrapper object (``TaxCode.Code``, ``Item.UID``, ``Account.DisplayID``, ``Phone.Number``)
        # names what the wrapper is, and a value inside one (``price_money.amount``, ``CustomerMemo.value``) is what
        # the wrapper is: either way its words are the parent's.
        leaf = canonical_words(parent) or leaf
        path = canonical_words(_group(field.name))
    if "[]" in field.name and leaf in (("net",), ("total",), ("product",), ("item",)):
        # On an invoice line, the net amount (or the line's total) is the line's amount, and a bare product or item
        # is the reference to the item sold, as an item code or ref is.
        path = (*path[: len(path) - len(leaf)], "amount" if leaf in (("net",), ("total",)) else "code")
        leaf = path[-1:]
    if split_words(field.name) in ("vat", "gst") and kind(field) == "text":
        # A bare "vat" held as text is the VAT registration number; an amount would be a number.
        path = leaf = ("taxid",)
    return _Doc(Counter(path), Counter(leaf), Counter(label))


def _group(name: str) -> str:
    return name[: len(name) - len(_leaf(name))]


_DOCUMENTS = frozenset({"invoice", "order", "bill", "quote", "estimate", "credit", "receipt", "payment", "journal"})


def _is_document(schema: ObjectSchema) -> bool:
    """An invoice, order, quote, ...: a numbered document, not a customer or an item."""
    return bool(_DOCUMENTS & set(split_words(schema.object).split()))


_TOWN_LINES = {"street3": "city", "street4": "region"}


def _docs(schema: ObjectSchema) -> list[_Doc]:
    """The fields' words, with two schema-wide readings. A description stands for notes when there are none. An
    address of numbered lines and no town field of its own (``Line1``..``Line4``) follows the UK convention, street
    lines first, then the post town and the county."""
    docs = [_doc(f) for f in schema.fields]
    for field, doc in zip(schema.fields, docs, strict=True):
        if _own_id(field, schema):
            # The record's own id is one thing whatever its name (``Id``, ``ContactID``, ``contact_id``, or a ``url``
            # its label calls the unique identifier): its words say "id", not a website or a contact.
            doc.path, doc.leaf = Counter(("id",)), Counter(("id",))
        elif _group(field.name) and split_words(_leaf(field.name)) == "address":
            # An address's own "address" line (``billing_address.address``) is its street.
            for counter in (doc.path, doc.leaf):
                counter["street"] += counter.pop("address", 0)
    _strip_own_name(schema, docs)
    if _is_document(schema):
        _read_lines(schema, docs)
    else:
        for field, doc in zip(schema.fields, docs, strict=True):
            if not _group(field.name) and doc.path == Counter(("number",)):
                # A customer's or an item's bare "number" is its code (an invoice's number is the invoice's own).
                doc.path, doc.leaf = Counter(("code",)), Counter(("code",))
    _read_own_key(schema, docs)
    if not any("notes" in d.path for d in docs):
        # Without a notes field, a record's description is where its free-text notes go (an Account's Description).
        for doc in docs:
            if "description" in doc.path:
                doc.path["notes"] += 1
    _read_prefixed_addresses(schema, docs)
    _read_address_names(schema, docs)
    with_town = {_group(f.name) for f, d in zip(schema.fields, docs, strict=True) if "city" in d.path}
    for field, doc in zip(schema.fields, docs, strict=True):
        if _group(field.name) in with_town or not _TOWN_LINES.keys() & doc.path.keys():
            continue
        for counter in (doc.path, doc.leaf):
            for line, meaning in _TOWN_LINES.items():
                if line in counter:
                    counter[meaning] += counter.pop(line)
    return docs


_ADDRESS_PARTS = frozenset({"street", "street2", "street3", "city", "region", "postcode", "country"})
_KEY_WORDS = frozenset({"id", "uid", "guid", "uuid"})


def _read_own_key(schema: ObjectSchema, docs: list[_Doc]) -> None:
    """Round 12: a schema in which no field reads as the record's own id still has a key. In order: a top-level
    ``<the object's last word> id`` (``InvoiceID`` in a SalesInvoice); else the first top-level field declared a
    GUID or UUID whose name ends in an id word (``UID``, ``lago_id``); else the record's own number or code (a key
    people read: ``DocumentNumber``, ``CustomerNumber``) also stands for its id."""
    top = [i for i, f in enumerate(schema.fields) if not _group(f.name) and "[]" not in f.name]
    if any(docs[i].path == Counter(("id",)) for i in top):
        return
    own = split_words(schema.object).split()
    for i in top:
        if own and split_words(schema.fields[i].name).split() == [own[-1], "id"]:
            docs[i].path, docs[i].leaf = Counter(("id",)), Counter(("id",))
            return
    for i in top:
        field = schema.fields[i]
        declared = field.type.casefold()
        words = split_words(field.name).split()
        if words and words[-1] in _KEY_WORDS and ("guid" in declared or "uuid" in declared):
            docs[i].path, docs[i].leaf = Counter(("id",)), Counter(("id",))
            return
    keys = ({"number": 1}, {"document": 1, "number": 1}) if _is_document(schema) else ({"code": 1},)
    for i in top:
        if docs[i].path in keys:
            docs[i].path["id"] += 1
            return


def _strip_own_name(schema: ObjectSchema, docs: list[_Doc]) -> None:
    """A top-level name that begins with the record's own name says it once too often: a product's
    ``productnumber`` is its number (so its code), an account's ``accountcategorycode`` its category code. (The
    record's own id is read apart.)"""
    own = split_words(schema.object).split()
    for index, field in enumerate(schema.fields):
        words = split_words(field.name).split()
        if _group(field.name) or len(words) <= len(own) or words[: len(own)] != own or docs[index].path == {"id": 1}:
            continue
        rest = SchemaField(" ".join(words[len(own) :]), field.type, field.label, field.samples)
        docs[index] = _doc(rest)


_LINE_PARTS = (frozenset({"quantity"}), frozenset({"price", "amount", "total", "net"}))


def _read_lines(schema: ObjectSchema, docs: list[_Doc]) -> None:
    """In a document, a list of entries each with a quantity and a price or amount is its lines, whatever the list
    is called (``invoice_details[]``): its fields' words say "line" instead of the list's own name."""
    groups: dict[str, list[int]] = {}
    for index, field in enumerate(schema.fields):
        if "[]." in field.name:
            groups.setdefault(field.name[: field.name.index("[].")], []).append(index)
    for group, members in groups.items():
        named = Counter(canonical_words(group))
        if "line" in named or not all(any(part & docs[i].leaf.keys() for i in members) for part in _LINE_PARTS):
            continue
        for i in members:
            docs[i].path.subtract(named)
            docs[i].path = +docs[i].path  # (drops what the subtraction left at zero)
            docs[i].path["line"] = 1


_SLOT_PREFIX = re.compile(r"^([A-Za-z]+?)(\d+)_(.+)$")
_NAME_WORDS = frozenset({"name", "attention", "to", "primary", "main"})


def _read_prefixed_addresses(schema: ObjectSchema, docs: list[_Doc]) -> None:
    """Address blocks told apart by a short prefix (``p_street``, ``p_city``, ``p_code``; ``s_street``, ...) or by a
    slot number (``address1_city``, ``address2_city``): the prefix is a qualifier the lexicon cannot read, so the
    block's own words decide. Inside such a block a bare "code" is the postal code, and a name is the block's
    attention line; of two blocks naming neither billing nor shipping, the first (by slot number, else by place) is
    the main (billing) address and the second the delivery one, the usual order of a primary and a secondary
    address."""
    blocks: dict[str, tuple[int, list[tuple[int, list[str]]]]] = {}
    for index, field in enumerate(schema.fields):
        leaf, group = _leaf(field.name), _group(field.name)
        words = split_words(leaf).split()
        slot = _SLOT_PREFIX.match(leaf)
        if slot:
            key, order, rest = f"{group}{slot[1].casefold()}#{slot[2]}", int(slot[2]), split_words(slot[3]).split()
        elif len(words) > 1 and len(words[0]) <= 2 and not words[0].isdigit():
            key, order, rest = f"{group}{words[0]}", index, words[1:]
        else:
            continue
        blocks.setdefault(key, (order, []))[1].append((index, rest))
    addresses = sorted(
        (
            (order, members)
            for order, members in blocks.values()
            if sum(bool(_ADDRESS_PARTS & docs[i].leaf.keys()) for i, _ in members) >= 3
            and not any(
                {"billing", "shipping"} & set(split_words(schema.fields[i].name).split())
                for i, _ in members
                if _ADDRESS_PARTS & docs[i].leaf.keys()  # (a block's shipping method says nothing of its role)
            )
        ),
        key=lambda block: block[0],
    )
    for rank, (_, members) in enumerate(addresses[:2]):
        qualifier = "billing" if rank == 0 else "shipping"
        for i, rest in members:
            field = schema.fields[i]
            rest = ["postal", "code"] if rest == ["code"] else rest
            read = canonical_words(" ".join([qualifier, *rest]))
            if {"name", "attention"} & set(read) and set(read) <= _NAME_WORDS | {qualifier}:
                read = (qualifier, "attention")  # the person the post is for, not the record's name
            within = canonical_words(_group(field.name)) if _group(field.name) else ()
            docs[i].leaf = Counter(read)
            docs[i].path = Counter((*within, *read))


def _read_address_names(schema: ObjectSchema, docs: list[_Doc]) -> None:
    """A name inside an address block (``shipping.name``, ``Addresses[].ContactName``: a group whose siblings are
    street, city, postcode, ...) is the person the post is for, the block's attention line, not the record's name."""
    parts: Counter[str] = Counter()
    for field, doc in zip(schema.fields, docs, strict=True):
        if _ADDRESS_PARTS & doc.leaf.keys():
            # the block and every block it sits in (``shipping.`` holds ``shipping.address.city``)
            parts.update(field.name[: k + 1] for k, char in enumerate(field.name) if char == ".")
    for field, doc in zip(schema.fields, docs, strict=True):
        if _group(field.name) and parts[_group(field.name)] >= 3 and set(doc.leaf) <= {"name", "attention", "to"}:
            for counter in (doc.path, doc.leaf):
                for word in ("name", "to"):
                    counter.pop(word, None)
                counter["attention"] = 1


_SIDE_WORDS = _PURCHASE | _SALES


def field_words(schema: ObjectSchema, vocabulary: Vocabulary | None = None) -> list[frozenset[str]]:
    """Each field's canonical words (of its whole path), as the learned associations see them."""
    with using(vocabulary):
        return [frozenset(d.path) for d in _docs(schema)]


def _has_shipping(docs: Sequence[_Doc]) -> bool:
    """Whether the schema has a shipping address (not merely a shipping date or cost)."""
    return any("shipping" in doc.path and (_ADDRESS_PARTS | {"address"}) & doc.path.keys() for doc in docs)


def feature_matrix(
    source: ObjectSchema,
    target: ObjectSchema,
    learned: Mapping[str, float] | None = None,
    vocabulary: Vocabulary | None = None,
    encoder: embedding.Encoder | None = None,
) -> list[list[list[float]]]:
    """``[i][j]`` is the feature vector of source field i against target field j. ``learned``: the word
    associations learned from the training pairs (``synonyms``); ``vocabulary``: the known words that run-together
    names are split into (``segment``), with the pair's own label words known too; ``encoder``: the fields' learned
    representation (``embedding``; without one its two features are 0)."""
    with using(pair_vocabulary(vocabulary, source, target)):
        out = _feature_matrix(source, target, learned)
    if encoder is None:
        for row in out:
            for vector in row:
                vector.extend((0.0, 0.0))
        return out
    columns = encoder.columns(
        embedding.field_tokens(source, field_words(source, None)),
        embedding.field_tokens(target, field_words(target, None)),
    )
    for row, extra in zip(out, columns, strict=True):
        for vector, (cosine, best) in zip(row, extra, strict=True):
            vector.extend((cosine, best))
    return out


def pair_vocabulary(vocabulary: Vocabulary | None, *schemas: ObjectSchema) -> Vocabulary | None:
    """``vocabulary`` with the words of the schemas' own labels known (``Vocabulary.with_labels``)."""
    if vocabulary is None:
        return None
    with using(None):
        return vocabulary.with_labels(w for s in schemas for f in s.fields for w in split_words(f.label).split())


def _feature_matrix(
    source: ObjectSchema, target: ObjectSchema, learned: Mapping[str, float] | None
) -> list[list[list[float]]]:
    sdocs = _docs(source)
    tdocs = _docs(target)
    if not _has_shipping(tdocs):
        # The target has a single address: the source's billing and shipping lines both have it as counterpart, so
        # the qualifier says nothing here and must not push a shipping street off the one street there is. (The
        # other way round the qualifier stays: a single address is the main one, the billing address's match.)
        for doc in (*sdocs, *tdocs):
            if not (_ADDRESS_PARTS | {"address"}) & doc.path.keys():
                continue  # a shipping date or cost keeps its qualifier
            for counter in (doc.path, doc.leaf):
                for word in ("billing", "shipping"):
                    counter.pop(word, None)
    df: Counter[str] = Counter()
    for doc in (*sdocs, *tdocs):
        df.update(set(doc.path) | set(doc.label))
    n = len(sdocs) + len(tdocs)
    idf = {w: math.log((1 + n) / (1 + c)) + 1 for w, c in df.items()}
    # The sales/purchase qualifier weighs as a word every field shares: ``side_fit`` judges the side, and a rarer
    # qualifier (a schema with few sales fields) must not outweigh the words that say what the field is.
    for word in _SIDE_WORDS & idf.keys():
        idf[word] = 1.0
    base: list[list[list[float]]] = []
    for sf, sd in zip(source.fields, sdocs, strict=True):
        row = []
        sleaf = "".join(canonical_words(_leaf(sf.name)))
        for tf, td in zip(target.fields, tdocs, strict=True):
            path = _cosine(sd.path, td.path, idf)
            leaf = _cosine(sd.leaf, td.leaf, idf)
            # Labels when both have one; else the label of one against the other's name.
            slabel = sd.label or sd.path
            tlabel = td.label or td.path
            label = _cosine(slabel, tlabel, idf) if (sd.label or td.label) else path
            spelling = fuzz.ratio(sleaf, "".join(canonical_words(_leaf(tf.name)))) / 100
            covers = max(_covered(td.path, sd.label, idf), _covered(sd.path, td.label, idf))
            row.append(
                [path, leaf, label, spelling, type_fit(sf, tf), sample_fit(sf, tf), covers, side_fit(sd.path, td.path)]
            )
        base.append(row)
    ids_s = [is_identifier(f, source) for f in source.fields]
    ids_t = [is_identifier(f, target) for f in target.fields]
    # How deep in lists each field sits: a header field (the invoice's date) and a line's (``lines[].date``) are
    # rarely the same thing, whatever their words.
    levels_s = [f.name.count("[]") for f in source.fields]
    levels_t = [f.name.count("[]") for f in target.fields]
    sides = [[v.pop() for v in row] for row in base]
    covered = [[v.pop() for v in row] for row in base]
    out = _with_context(base)
    swords = [frozenset(d.path) for d in sdocs]
    twords = [frozenset(d.path) for d in tdocs]
    for i, row in enumerate(out):
        for j, vector in enumerate(row):
            learned_fit = synonyms.association(swords[i], twords[j], learned or {})
            same_level = 1.0 if levels_s[i] == levels_t[j] else 0.0
            vector.extend((1.0 if ids_s[i] and ids_t[j] else 0.0, sides[i][j], learned_fit, covered[i][j], same_level))
    return out


def _covered(words: Counter[str], label: Counter[str], idf: dict[str, float]) -> float:
    """How much of a field's words (by weight) the other field's label says: a long label ("Shows whether the
    account is active or inactive") holds a short name's words (status) without being like it as a whole."""
    if not words or not label:
        return 0.0
    total = sum(idf.get(w, 1.0) for w in words)
    return sum(idf.get(w, 1.0) for w in words if w in label) / total


def _lexical(vector: Sequence[float]) -> float:
    return max(vector[0], vector[2]) + 0.5 * vector[1] + 0.25 * vector[3]


def _with_context(base: list[list[list[float]]]) -> list[list[list[float]]]:
    scores = [[_lexical(v) for v in row] for row in base]
    n_targets = len(scores[0]) if scores else 0
    best_t = [max(row) if row else 0.0 for row in scores]
    second_t = [sorted(row)[-2] if len(row) > 1 else 0.0 for row in scores]
    best_s = [max(scores[i][j] for i in range(len(scores))) for j in range(n_targets)]
    out = []
    for i, row in enumerate(base):
        out_row = []
        for j, vector in enumerate(row):
            s = scores[i][j]
            best_for_source = 1.0 if s > 0 and s >= best_t[i] else 0.0
            best_for_target = 1.0 if s > 0 and s >= best_s[j] else 0.0
            margin = max(min((s - (second_t[i] if s >= best_t[i] else best_t[i])) / 2, 1.0), -1.0)
            out_row.append([*vector, best_for_source, best_for_target, margin])
        out.append(out_row)
    return out
