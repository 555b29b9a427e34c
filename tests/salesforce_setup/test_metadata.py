"""LedgerLink's Salesforce metadata: well-formed SFDX source, covering every custom name the code uses."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

import ledgerlink
from ledgerlink.systems.salesforce.org_check import REQUIRED_PACKAGE, Component, load_requirements

NS = "{http://soap.sforce.com/2006/04/metadata}"
SOURCE = Path(ledgerlink.__file__).parent
CUSTOM_NAME = re.compile(r"\b[A-Za-z][A-Za-z0-9_]*__c\b")
# The sandbox is the vendor's side (it reads the metadata, it does not use it); everything else is LedgerLink.
NOT_LEDGERLINK = {SOURCE / "sandbox"}
# The seed's custom-logic examples (flow builder templates) run on fields of the user's own org, not ours to ship.
USERS_OWN_FIELDS = {"Approved__c", "Project__c"}


def _xml_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*-meta.xml"))


def _required(root: Path) -> dict[str, set[str]]:
    """Field names (and "" for the object itself) by object, in the package directory the flows need."""
    found: dict[str, set[str]] = {}
    for c in load_requirements(root).components:
        if c.package == REQUIRED_PACKAGE:
            found.setdefault(c.object, set()).add(c.field or "")
    return found


def test_project_file_names_existing_package_directories(metadata_root: Path) -> None:
    project = json.loads((metadata_root / "sfdx-project.json").read_text())
    paths = [entry["path"] for entry in project["packageDirectories"]]
    assert paths[0] == REQUIRED_PACKAGE and project["packageDirectories"][0]["default"] is True
    assert all((metadata_root / p / "main" / "default").is_dir() for p in paths)
    assert re.fullmatch(r"\d+\.0", project["sourceApiVersion"])


def test_every_file_is_metadata_of_the_kind_its_name_says(metadata_root: Path) -> None:
    kinds = {".field-meta.xml": "CustomField", ".object-meta.xml": "CustomObject"}
    kinds[".permissionset-meta.xml"] = "PermissionSet"
    files = _xml_files(metadata_root)
    assert len(files) > 20
    for path in files:
        root = ET.parse(path).getroot()
        suffix = next(s for s in kinds if path.name.endswith(s))
        assert root.tag == NS + kinds[suffix], path
        if suffix == ".field-meta.xml":
            assert root.findtext(NS + "fullName") == path.name.removesuffix(suffix), path
            assert path.parent.name == "fields" and path.parent.parent.name.isidentifier(), path
        if suffix == ".object-meta.xml":
            assert path.name.removesuffix(suffix) == path.parent.name, path


def test_fields_say_what_a_deploy_needs(metadata_root: Path) -> None:
    """Per the Metadata API's CustomField: a label, a type, a length for text, precision and scale for numbers,
    a target and relationship name for lookups."""
    for path in metadata_root.glob("**/*.field-meta.xml"):
        root = ET.parse(path).getroot()
        kind = root.findtext(NS + "type")
        assert root.findtext(NS + "label"), path
        assert len(root.findtext(NS + "label") or "") <= 40, path
        if kind == "Text":
            assert 0 < int(root.findtext(NS + "length") or 0) <= 255, path
        if kind in ("Currency", "Number", "Percent"):
            precision, scale = int(root.findtext(NS + "precision") or 0), int(root.findtext(NS + "scale") or -1)
            assert 0 < precision <= 18 and 0 <= scale <= precision, path
        if kind in ("Lookup", "MasterDetail"):
            assert root.findtext(NS + "referenceTo") and root.findtext(NS + "relationshipName"), path
        if root.findtext(NS + "unique") == "true":
            assert root.findtext(NS + "externalId") == "true", path


def test_custom_objects_have_a_name_field_and_sharing(metadata_root: Path) -> None:
    objects = list(metadata_root.rglob("*.object-meta.xml"))
    assert {p.parent.name for p in objects} == {"Payment__c", "Invoice__c", "Invoice_Line__c"}
    for path in objects:
        root = ET.parse(path).getroot()
        assert root.findtext(f"{NS}nameField/{NS}type") in ("Text", "AutoNumber"), path
        assert root.findtext(NS + "deploymentStatus") == "Deployed", path
        details = [
            f
            for f in (path.parent / "fields").glob("*.field-meta.xml")
            if ET.parse(f).getroot().findtext(NS + "type") == "MasterDetail"
        ]
        assert root.findtext(NS + "sharingModel") == ("ControlledByParent" if details else "ReadWrite"), path


def test_each_permission_set_opens_every_field_and_object_of_its_package(metadata_root: Path) -> None:
    """Field permissions may not name master-detail or required fields (the platform refuses them)."""
    components = load_requirements(metadata_root).components
    for permission_file in metadata_root.rglob("*.permissionset-meta.xml"):
        package = permission_file.relative_to(metadata_root).parts[0]
        root = ET.parse(permission_file).getroot()
        granted = {e.findtext(NS + "field") for e in root.iter(NS + "fieldPermissions")}
        objects = {e.findtext(NS + "object") for e in root.iter(NS + "objectPermissions")}
        ours = [c for c in components if c.package == package]
        assert granted == {c.name for c in ours if c.field and c.kind != "MasterDetail"}, permission_file
        assert {c.object for c in ours if c.field is None} <= objects, permission_file


def _code_files() -> list[Path]:
    return [
        p
        for p in SOURCE.rglob("*")
        if p.suffix in (".py", ".yaml", ".yml", ".json", ".html", ".js")
        and not any(p.is_relative_to(skip) for skip in NOT_LEDGERLINK)
    ]


def _unknown_custom_names(root: Path) -> dict[str, list[str]]:
    """``X__c`` names in LedgerLink's code that are neither a custom object nor a custom field of ``force-app``,
    with the files that use them."""
    required = _required(root)
    known = set(required) | {name for fields in required.values() for name in fields}
    used: dict[str, list[str]] = {}
    for path in _code_files():
        for name in set(CUSTOM_NAME.findall(path.read_text(encoding="utf-8", errors="replace"))):
            used.setdefault(name, []).append(str(path.relative_to(SOURCE)))
    assert {"Payment__c", "ExternalID__c", "Paid_Date__c", "Accounting_Invoice_Number__c"} <= set(used)
    return {name: files for name, files in used.items() if name not in known | USERS_OWN_FIELDS}


def test_every_custom_name_in_the_code_is_in_the_metadata_the_flows_need(metadata_root: Path) -> None:
    """Grep LedgerLink's code (flows, mapping templates and schema, demo seed, engine…) for ``X__c``: each must be a
    custom object or a custom field of the ``force-app`` package directory, which `salesforce check` requires."""
    missing = _unknown_custom_names(metadata_root)
    assert not missing, f"custom names the code uses but salesforce/{REQUIRED_PACKAGE} lacks: {missing}"


def test_the_grep_catches_a_field_the_metadata_lacks(metadata_root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "salesforce"
    shutil.copytree(metadata_root, copy)
    # A name only one object has (Paid_Date__c is on Opportunity and on Invoice__c).
    (copy / "force-app/main/default/objects/Account/fields/Overdue_Balance__c.field-meta.xml").unlink()
    missing = _unknown_custom_names(copy)
    assert set(missing) == {"Overdue_Balance__c"}
    assert "flows/account_balances.py" in missing["Overdue_Balance__c"]


def test_the_mapping_schema_and_templates_name_custom_fields_on_the_right_object(metadata_root: Path) -> None:
    """Precise, per object: the mapping schema (which the templates are checked against) and the templates'
    Salesforce targets name only fields the metadata puts on that very object, with a matching type."""
    required = _required(metadata_root)
    types = {c.name: c.kind for c in load_requirements(metadata_root).components}
    compatible = {
        "string": {"Text"},
        "decimal": {"Currency", "Number", "Percent"},
        "date": {"Date"},
        "id": {"Lookup", "MasterDetail"},
    }
    schema = yaml.safe_load((SOURCE / "systems" / "salesforce" / "schema.yaml").read_text())
    for obj, fields in schema.items():
        if obj.endswith("__c"):
            assert "" in required.get(obj, set()), f"custom object {obj} is not in the metadata"
        for name, kind in fields.items():
            if name.endswith("__c"):
                assert name in required.get(obj, set()), f"{obj}.{name} is not in the metadata"
                assert types[f"{obj}.{name}"] in compatible[kind], f"{obj}.{name}: {kind} vs {types[f'{obj}.{name}']}"
    for template in (SOURCE / "systems" / "salesforce" / "templates").glob("*.yaml"):
        spec = yaml.safe_load(template.read_text())
        if spec["target"]["system"] == "salesforce":
            obj = spec["target"]["object"]
            custom = [f for f in spec["fields"] if f.endswith("__c")]
            assert all(f in required.get(obj, set()) for f in custom), (template.name, obj, custom)


def test_requirements_name_what_a_deploy_path_and_package_would(metadata_root: Path) -> None:
    components = {c.name: c for c in load_requirements(metadata_root).components}
    paid = components["Opportunity.Paid_Date__c"]
    assert paid == Component(
        "Opportunity",
        "Paid_Date__c",
        "Date",
        "force-app/main/default/objects/Opportunity/fields/Paid_Date__c.field-meta.xml",
        "force-app",
    )
    assert components["Payment__c"].path == "force-app/main/default/objects/Payment__c"
    assert components["Payment__c.External_Id__c"].external_id
    assert components["Payment__c.Opportunity__c"].reference_to == "Opportunity"
    assert components["Invoice__c"].required and components["Account.Aging_Over_90__c"].required  # flows use them
    assert (metadata_root / paid.path).is_file()
