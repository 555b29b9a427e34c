"""Load errors point at file:line:column; user mappings override templates; custom fields; batches go on past errors."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from ledgerlink.mapping import (
    DEFAULT_SCHEMAS,
    ExtendedSchemaProvider,
    MappingError,
    MappingLoadError,
    fields_from_describe,
    list_mappings,
    load_mapping,
)
from ledgerlink.model import Customer

HEADER = """\
source: {system: salesforce, object: Account}
target: {system: canonical, object: Customer}
direction: to_canonical
fields:
"""


def write(tmp_path: Path, body: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def load_error(path: Path) -> MappingLoadError:
    with pytest.raises(MappingLoadError) as info:
        load_mapping(str(path))
    return info.value


def test_bad_yaml(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, HEADER + "  code: {from: Id\n  name: Name\n"))
    assert error.file.endswith("m.yaml")
    assert error.line >= 5
    assert "invalid YAML" in error.message


def test_unknown_key_in_rule(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, HEADER + "  code: {from: Id}\n  name: {from: Name, trasnforms: [strip]}\n"))
    assert (error.line, error.column) == (6, 22)
    assert "trasnforms" in error.message
    assert str(error).startswith(f"{tmp_path / 'm.yaml'}:6:22:")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "sauce: 1\n" + HEADER + "  code: Id\n"))
    assert (error.line, error.column) == (1, 1)
    assert "sauce" in error.message


def test_unknown_transform(tmp_path: Path) -> None:
    error = load_error(
        write(tmp_path, HEADER + "  code: Id\n  name:\n    from: Name\n    transforms: [strip, shout]\n")
    )
    assert error.line == 8
    assert "unknown transform 'shout'" in error.message


def test_bad_transform_arguments(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, HEADER + "  code: {from: Id, transforms: [{date: {form: iso}}]}\n"))
    assert error.line == 5
    assert "form" in error.message


def test_jsonata_syntax_error(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, HEADER + "  code: Id\n  name: {expr: 'Name & (('}\n"))
    assert error.line == 6
    assert error.column > 15
    assert "JSONata" in error.message


def test_unknown_source_field(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, HEADER + "  code: Id\n  name: {from: Nmae}\n"))
    assert (error.line, error.column) == (6, 16)
    assert "unknown field 'Nmae' on salesforce Account" in error.message


def test_unknown_target_field(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, HEADER + "  code: Id\n  nmae: Name\n"))
    assert (error.line, error.column) == (6, 3)
    assert "unknown field 'nmae' on canonical Customer" in error.message


def test_unknown_nested_fields(tmp_path: Path) -> None:
    body = HEADER + "  code: Id\n  contacts:\n    from: Contacts.records[]\n    fields:\n      last_name: LastNmae\n"
    error = load_error(write(tmp_path, body))
    assert error.line == 9
    assert "LastNmae" in error.message and "Contact" in error.message


def test_unknown_filter_field(tmp_path: Path) -> None:
    body = HEADER.replace("fields:", "filter: \"Stage = 'Closed Won'\"\nfields:") + "  code: Id\n"
    error = load_error(write(tmp_path, body))
    assert error.line == 4
    assert "Stage" in error.message


def test_custom_field_needs_the_describe(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "  code: Id\n  custom_fields.Region: Region__c\n")
    error = load_error(path)
    assert "custom field 'Region__c'" in error.message
    assert error.line == 6
    describe = {"name": "Account", "fields": [{"name": "Region__c", "type": "picklist"}]}
    schemas = ExtendedSchemaProvider(DEFAULT_SCHEMAS, {"salesforce": {"Account": fields_from_describe(describe)}})
    mapping = load_mapping(str(path), schemas=schemas)
    assert mapping.apply({"Id": "001", "Region__c": "EMEA"}).values["custom_fields"] == {"Region": "EMEA"}


def _user_account_mapping() -> str:
    template = Path(load_mapping("salesforce/account_to_canonical").file or "").read_text(encoding="utf-8")
    return template.replace("fields:\n", "fields:\n  custom_fields.Region: {from: Region__c, transforms: [strip]}\n", 1)


def test_user_override_wins_and_custom_field_reaches_kashflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, account: dict[str, Any]
) -> None:
    user_dir = tmp_path / "mappings"
    write(user_dir, _user_account_mapping(), "salesforce/account_to_canonical.yaml")
    write(user_dir, "salesforce:\n  Account:\n    Region__c: string\n", "schema_extensions.yaml")
    customer_template = Path(load_mapping("kashflow/customer_from_canonical").file or "").read_text(encoding="utf-8")
    write(
        user_dir,
        customer_template + '  "CustomTextBoxes[Name=Region].Value": custom_fields.Region\n',
        "kashflow/customer_from_canonical.yaml",
    )
    monkeypatch.setenv("LEDGERLINK_MAPPINGS_DIR", str(user_dir))

    listed = {info.name: info for info in list_mappings()}
    assert listed["salesforce/account_to_canonical"].overridden
    assert listed["salesforce/account_to_canonical"].path.is_relative_to(user_dir)
    assert not listed["salesforce/opportunity_to_canonical"].overridden

    canonical = load_mapping("salesforce/account_to_canonical").apply({**account, "Region__c": " EMEA "}).values
    customer = Customer.model_validate(canonical)
    assert customer.custom_fields == {"Region": "EMEA"}
    payload = load_mapping("kashflow/customer_from_canonical").apply(customer.model_dump(mode="json")).values
    assert payload["CustomTextBoxes"] == [{"Name": "Region", "Value": "EMEA"}]
    assert payload["Code"] == "ACME01"


def test_project_dir_mappings_from_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "mappings",
        HEADER + "  code: {default: FIXED}\n  name: Name\n",
        "salesforce/account_to_canonical.yaml",
    )
    assert load_mapping("salesforce/account_to_canonical").apply({"Name": "x"}).values == {"code": "FIXED", "name": "x"}


def test_batch_goes_on_past_a_bad_record(opportunity: dict[str, Any]) -> None:
    mapping = load_mapping("salesforce/opportunity_to_canonical")
    bad = {**opportunity, "Id": "006BAD"}
    bad["OpportunityLineItems"] = {
        "records": [{**opportunity["OpportunityLineItems"]["records"][0], "Quantity": "two"}]
    }
    missing = {**opportunity, "Id": "006NODATE", "CloseDate": None}
    results, errors = mapping.apply_many([opportunity, bad, missing, opportunity])
    assert len(results) == 2
    assert [e.record_id for e in errors] == ["006BAD", "006NODATE"]
    first, second = errors
    assert first.field == "lines[0].quantity"
    assert first.rule == "from Quantity | decimal"
    assert "'two'" in first.message
    assert "006BAD" in str(first) and "lines[0].quantity" in str(first) and "from Quantity" in str(first)
    assert second.field == "issue_date"
    assert "required" in second.message


def test_apply_many_can_filter(opportunity: dict[str, Any]) -> None:
    mapping = load_mapping("salesforce/opportunity_to_canonical")
    lost = {**opportunity, "StageName": "Closed Lost"}
    results, errors = mapping.apply_many([opportunity, lost], skip_unmatched=True)
    assert len(results) == 1 and not errors


def test_expr_rules_and_jsonata_filter(tmp_path: Path) -> None:
    body = """\
    source: {system: salesforce, object: Opportunity}
    target: {system: canonical, object: Invoice}
    direction: to_canonical
    filter: {expr: "$count(OpportunityLineItems.records) > 0 and StageName in ['Closed Won', 'Invoiced']"}
    fields:
      reference: {expr: "'SF-' & Id"}
      total_net: {expr: "$sum(OpportunityLineItems.records.(Quantity * UnitPrice))", transforms: [decimal]}
      lines:
        from: OpportunityLineItems.records[]
        fields:
          description: {expr: "Description ? Description : $root.Name"}
    """
    mapping = load_mapping(str(write(tmp_path, body)))
    assert mapping.filter_kind == "jsonata"
    record = {
        "Id": "006A",
        "Name": "Deal",
        "StageName": "Invoiced",
        "OpportunityLineItems": {"records": [{"Quantity": 2, "UnitPrice": 2.5, "Description": None}]},
    }
    assert mapping.matches(record)
    assert not mapping.matches({**record, "StageName": "Open"})
    values = mapping.apply(record).values
    assert values["reference"] == "SF-006A"
    assert str(values["total_net"]) == "5"
    assert values["lines"] == [{"description": "Deal"}]


def test_runaway_expression_is_a_record_error(tmp_path: Path) -> None:
    body = HEADER + "  code: Id\n  name: {expr: '($f := function($n) { $f($n + 1) }; $f(0))'}\n"
    mapping = load_mapping(str(write(tmp_path, body)))
    with pytest.raises(MappingError) as info:
        mapping.apply({"Id": "001X"})
    assert info.value.field == "name" and info.value.record_id == "001X"
    # The bound is per evaluation: a later, harmless call is not refused because time has passed since loading.
    ok = load_mapping(str(write(tmp_path, HEADER + "  code: {expr: Id}\n", "ok.yaml")))
    assert ok.apply({"Id": "001"}).values == {"code": "001"}


def test_owners(tmp_path: Path) -> None:
    owners = load_mapping("kashflow/customer_from_canonical").owners
    assert owners["Name"] == "salesforce"
    assert owners["IsArchived"] == "kashflow"
    assert load_mapping("salesforce/opportunity_to_canonical").owners["lines"] == "salesforce"


def test_no_such_mapping() -> None:
    with pytest.raises(MappingLoadError, match="no mapping named"):
        load_mapping("salesforce/nothing_here")
