"""The org's custom objects and fields, read from Salesforce metadata in SFDX source format.

LedgerLink ships what a real org needs as SFDX source (the repository's ``salesforce/`` folder, deployed with
``sf project deploy start``). The sandbox reads the same files, so the emulated org has exactly what a deployed
org has and the two cannot drift. Standard objects and their standard fields stay declared in ``schema.py``.

The folder is found in this order: ``SalesforceSandboxConfig.metadata_dir``; the copy a built wheel carries
inside the package (``ledgerlink/salesforce_metadata``, put there by ``setup.py``); the repository checkout
(``<repo>/salesforce``, for a source tree or an editable install). Every package directory named in its
``sfdx-project.json`` is loaded, as if all of them had been deployed.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .schema import FieldDef

PROJECT_FILE = "sfdx-project.json"
_NS = "{http://soap.sforce.com/2006/04/metadata}"
_HERE = Path(__file__).resolve()
# ledgerlink/sandbox/salesforce/metadata.py → the ledgerlink package, then the repository above src/.
PACKAGED_DIR = _HERE.parents[2] / "salesforce_metadata"
REPOSITORY_DIR = _HERE.parents[4] / "salesforce"

# Metadata API field types → describe types. A Number is a double in describe whatever its scale.
DESCRIBE_TYPES = {
    "Text": "string",
    "TextArea": "textarea",
    "LongTextArea": "textarea",
    "Email": "email",
    "Phone": "phone",
    "Url": "url",
    "Picklist": "picklist",
    "Checkbox": "boolean",
    "Currency": "currency",
    "Number": "double",
    "Percent": "percent",
    "Date": "date",
    "DateTime": "datetime",
    "Lookup": "reference",
    "MasterDetail": "reference",
}
_FIXED_LENGTHS = {"TextArea": 255, "Email": 80, "Phone": 40, "Url": 255, "Picklist": 255}
# Key prefixes Salesforce would assign at deploy time; pinned so ids stay stable across sandbox restarts.
KEY_PREFIXES = {"Payment__c": "a0P", "Invoice__c": "a0I", "Invoice_Line__c": "a0L"}


class MetadataError(ValueError):
    """A metadata file the sandbox cannot read, naming the file."""


@dataclass(frozen=True)
class CustomObjectDef:
    name: str
    label: str
    key_prefix: str
    name_field: FieldDef


@dataclass
class OrgMetadata:
    """What the metadata deploys: custom objects, and custom fields by object (custom and standard ones)."""

    root: Path
    objects: dict[str, CustomObjectDef] = field(default_factory=dict)
    fields: dict[str, list[FieldDef]] = field(default_factory=dict)

    def without(self, names: tuple[str, ...] | list[str]) -> OrgMetadata:
        """The same metadata less some components: ``"Object.Field__c"`` drops a field, ``"Object__c"`` a whole
        custom object (an org where they were never deployed)."""
        objects = dict(self.objects)
        fields = {obj: list(defs) for obj, defs in self.fields.items()}
        for name in names:
            obj, _, field_name = name.partition(".")
            if not field_name:
                if obj not in objects:
                    raise ValueError(f"not_deployed names {name!r}, which is not a custom object in {self.root}")
                del objects[obj]
                fields.pop(obj, None)
                continue
            kept = [f for f in fields.get(obj, []) if f.name.lower() != field_name.lower()]
            if len(kept) == len(fields.get(obj, [])):
                raise ValueError(f"not_deployed names {name!r}, which is not a custom field in {self.root}")
            fields[obj] = kept
        gone = set(self.objects) - set(objects)
        for obj, defs in fields.items():
            for fdef in defs:
                if gone & set(fdef.reference_to):
                    raise ValueError(
                        f"{obj}.{fdef.name} refers to {fdef.reference_to[0]}, which not_deployed leaves out"
                    )
        return OrgMetadata(self.root, objects, fields)


def locate(explicit: Path | None = None) -> Path:
    """The SFDX project folder (the one holding ``sfdx-project.json``)."""
    candidates = [explicit] if explicit is not None else [PACKAGED_DIR, REPOSITORY_DIR]
    for candidate in candidates:
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"no Salesforce metadata ({PROJECT_FILE}) found in {tried}")


def load(root: Path) -> OrgMetadata:
    """Every custom object and field in the project's package directories."""
    project = _read_project(root)
    metadata = OrgMetadata(root)
    for entry in project.get("packageDirectories", []):
        objects_dir = root / str(entry["path"]) / "main" / "default" / "objects"
        if not objects_dir.is_dir():
            continue
        for object_dir in sorted(p for p in objects_dir.iterdir() if p.is_dir()):
            name = object_dir.name
            object_file = object_dir / f"{name}.object-meta.xml"
            if name.endswith("__c") and object_file.is_file():
                used = {o.key_prefix for o in metadata.objects.values()}
                metadata.objects[name] = _custom_object(name, object_file, used)
            for field_file in sorted((object_dir / "fields").glob("*.field-meta.xml")):
                metadata.fields.setdefault(name, []).append(_custom_field(field_file))
    return metadata


def _read_project(root: Path) -> dict[str, Any]:
    path = root / PROJECT_FILE
    try:
        project = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MetadataError(f"{path}: {exc}") from exc
    if not isinstance(project, dict):
        raise MetadataError(f"{path}: not a JSON object")
    return project


def _parse(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise MetadataError(f"{path}: {exc}") from exc


def _text(element: ET.Element, tag: str, default: str = "") -> str:
    found = element.find(_NS + tag)
    return (found.text or "").strip() if found is not None else default


def _flag(element: ET.Element, tag: str) -> bool:
    return _text(element, tag, "false").lower() == "true"


def _int(element: ET.Element, tag: str, path: Path) -> int:
    value = _text(element, tag, "0")
    try:
        return int(value)
    except ValueError:
        raise MetadataError(f"{path}: <{tag}> is {value!r}, not a whole number") from None


def _custom_object(name: str, path: Path, used_prefixes: set[str]) -> CustomObjectDef:
    root = _parse(path)
    name_field = root.find(_NS + "nameField")
    if name_field is None:
        raise MetadataError(f"{path}: a custom object needs a <nameField>")
    label = _text(name_field, "label", "Name")
    if _text(name_field, "type") == "AutoNumber":
        display = _text(name_field, "displayFormat")
        name_def = FieldDef(
            "Name", "string", 80, createable=False, updateable=False, label=label, auto_number=_auto_format(display)
        )
    else:
        name_def = FieldDef("Name", "string", 80, label=label)
    prefix = KEY_PREFIXES.get(name) or _free_prefix(name, used_prefixes)
    return CustomObjectDef(name, _text(root, "label", name), prefix, name_def)


def _auto_format(display: str) -> str:
    """``PAY-{000000}`` → ``PAY-{:06d}`` (a Python format for the running number)."""
    parts = re.split(r"\{(0+)\}", display)  # literal text and the zeros of the number, alternately
    return "".join(
        f"{{:0{len(part)}d}}" if i % 2 else part.replace("{", "{{").replace("}", "}}") for i, part in enumerate(parts)
    )


def _free_prefix(name: str, used: set[str]) -> str:
    """A stable three-character prefix for a custom object without a pinned one."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    seed = sum(ord(c) * (i + 1) for i, c in enumerate(name))
    for step in range(len(alphabet) ** 2):
        n = (seed + step) % len(alphabet) ** 2
        prefix = "a" + alphabet[n // len(alphabet)] + alphabet[n % len(alphabet)]
        if prefix not in used and prefix not in KEY_PREFIXES.values():
            return prefix
    raise MetadataError(f"no key prefix left for {name}")


def _custom_field(path: Path) -> FieldDef:
    root = _parse(path)
    name = _text(root, "fullName") or path.name.removesuffix(".field-meta.xml")
    if f"{name}.field-meta.xml" != path.name:
        raise MetadataError(f"{path}: <fullName> {name} does not match the file name")
    kind = _text(root, "type")
    if kind not in DESCRIBE_TYPES:
        raise MetadataError(f"{path}: field type {kind!r} is not emulated (known: {', '.join(DESCRIBE_TYPES)})")
    fdef = FieldDef(
        name=name,
        type=DESCRIBE_TYPES[kind],
        length=_FIXED_LENGTHS.get(kind) or _int(root, "length", path),
        label=_text(root, "label", name),
        external_id=_flag(root, "externalId"),
        unique=_flag(root, "unique"),
        custom=True,
        precision=_int(root, "precision", path),
        scale=_int(root, "scale", path),
    )
    if kind == "Checkbox":
        fdef = replace(fdef, default=_text(root, "defaultValue", "false").lower() == "true", nillable=False)
    if kind == "Picklist":
        values = root.iterfind(f"{_NS}valueSet/{_NS}valueSetDefinition/{_NS}value/{_NS}fullName")
        fdef = replace(fdef, picklist_values=tuple((v.text or "").strip() for v in values))
    if kind in ("Lookup", "MasterDetail"):
        fdef = _relationship(fdef, root, path, master_detail=kind == "MasterDetail")
    elif _flag(root, "required"):
        fdef = replace(fdef, required=True, nillable=False)
    return fdef


def _relationship(fdef: FieldDef, root: ET.Element, path: Path, *, master_detail: bool) -> FieldDef:
    target = _text(root, "referenceTo")
    children = _text(root, "relationshipName")
    if not target or not children:
        raise MetadataError(f"{path}: a relationship field needs <referenceTo> and <relationshipName>")
    fdef = replace(
        fdef,
        length=18,
        reference_to=(target,),
        relationship_name=fdef.name.removesuffix("__c") + "__r",
        child_relationship=children + "__r",
    )
    if master_detail:  # always required; deleting the master deletes the details
        return replace(
            fdef,
            required=True,
            nillable=False,
            cascade_delete=True,
            updateable=_flag(root, "reparentableMasterDetail"),
        )
    return replace(fdef, required=_flag(root, "required"), nillable=not _flag(root, "required"))
