"""Does the connected org have the custom objects and fields LedgerLink needs? (`ledgerlink salesforce check`)

What LedgerLink needs is its Salesforce metadata in SFDX source format (the repository's ``salesforce/`` folder,
shipped inside the wheel as ``ledgerlink/salesforce_metadata``). Its ``force-app`` package directory holds what the
flows use today: anything of it the org lacks fails the check. Other package directories (``invoice-history``)
hold what coming flows will use: reported, never a failure. The org's side is describe: the global
``sobjects/`` list, then ``sobjects/{Object}/describe`` once per object the metadata touches.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ledgerlink
from ledgerlink.systems.salesforce.client import SalesforceClient

PROJECT_FILE = "sfdx-project.json"
REQUIRED_PACKAGE = "force-app"
PERMISSION_SET = "LedgerLink_Integration"
_NS = "{http://soap.sforce.com/2006/04/metadata}"
_PACKAGE_ROOT = Path(ledgerlink.__file__).resolve().parent
PACKAGED_DIR = _PACKAGE_ROOT / "salesforce_metadata"  # in a built wheel (see setup.py)
REPOSITORY_DIR = _PACKAGE_ROOT.parents[1] / "salesforce"  # in a source checkout or an editable install

# Metadata API field type → the describe types an org may show for it (a Number is a double in describe).
DESCRIBE_TYPES: dict[str, tuple[str, ...]] = {
    "Text": ("string",),
    "TextArea": ("textarea",),
    "LongTextArea": ("textarea",),
    "Email": ("email",),
    "Phone": ("phone",),
    "Url": ("url",),
    "Picklist": ("picklist",),
    "Checkbox": ("boolean",),
    "Currency": ("currency",),
    "Number": ("double", "int"),
    "Percent": ("percent",),
    "Date": ("date",),
    "DateTime": ("datetime",),
    "Lookup": ("reference",),
    "MasterDetail": ("reference",),
}


class MetadataError(ValueError):
    """LedgerLink's metadata folder is missing or unreadable (names the file)."""


@dataclass(frozen=True)
class Component:
    """One custom object or custom field the metadata deploys."""

    object: str
    field: str | None  # None: the custom object itself
    kind: str  # "CustomObject", or the field's metadata type ("Text", "Currency", …)
    path: str  # relative to the project folder, for the deploy command
    package: str
    external_id: bool = False
    reference_to: str | None = None

    @property
    def name(self) -> str:
        return f"{self.object}.{self.field}" if self.field else self.object

    @property
    def required(self) -> bool:
        return self.package == REQUIRED_PACKAGE


@dataclass(frozen=True)
class Requirements:
    root: Path
    components: tuple[Component, ...]


@dataclass(frozen=True)
class Finding:
    component: Component
    problem: str  # "missing" (a deploy adds it) or "mismatch" (the org has it, differently: fix by hand)
    detail: str


@dataclass
class OrgReport:
    org: str
    requirements: Requirements
    findings: list[Finding] = field(default_factory=list)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.component.required]

    @property
    def not_yet_deployed(self) -> list[Finding]:
        """Components of the other package directories (coming flows) the org lacks: information only."""
        return [f for f in self.findings if not f.component.required]

    @property
    def ok(self) -> bool:
        return not self.failures

    def deploy_command(self, target_org: str = "<your-org-alias>") -> str | None:
        """The Salesforce CLI command (run in the metadata folder) that deploys exactly what the flows miss,
        with the permission set that opens those fields to the integration user."""
        paths = _deploy_paths(f.component for f in self.failures if f.problem == "missing")
        if not paths:
            return None
        permission_set = f"{REQUIRED_PACKAGE}/main/default/permissionsets/{PERMISSION_SET}.permissionset-meta.xml"
        flags = " ".join(f"--source-dir {p}" for p in [*paths, permission_set])
        return f"sf project deploy start {flags} --target-org {target_org}"

    def as_dict(self) -> dict[str, Any]:
        def entry(f: Finding) -> dict[str, str]:
            return {"name": f.component.name, "problem": f.problem, "detail": f.detail}

        return {
            "org": self.org,
            "ok": self.ok,
            "metadata_dir": str(self.requirements.root),
            "checked": len(self.requirements.components),
            "failures": [entry(f) for f in self.failures],
            "not_yet_deployed": [entry(f) for f in self.not_yet_deployed],
            "deploy_command": self.deploy_command(),
            "assign_permission_set": assign_command(),
        }


def assign_command(target_org: str = "<your-org-alias>") -> str:
    return f"sf org assign permset --name {PERMISSION_SET} --target-org {target_org}"


# --- the metadata ------------------------------------------------------------------------------------------


def locate_metadata(explicit: Path | None = None) -> Path:
    """The SFDX project folder: ``explicit``, else the copy inside the installed package, else the checkout's."""
    candidates = [explicit] if explicit is not None else [PACKAGED_DIR, REPOSITORY_DIR]
    for candidate in candidates:
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    raise MetadataError(f"no Salesforce metadata ({PROJECT_FILE}) in {', '.join(str(c) for c in candidates)}")


def load_requirements(root: Path | None = None) -> Requirements:
    """Every custom object and field in the project's package directories."""
    root = locate_metadata(root)
    try:
        project = json.loads((root / PROJECT_FILE).read_text(encoding="utf-8"))
        packages = [str(entry["path"]) for entry in project["packageDirectories"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MetadataError(f"{root / PROJECT_FILE}: {exc}") from exc
    components: list[Component] = []
    for package in packages:
        objects_dir = root / package / "main" / "default" / "objects"
        for object_dir in sorted(objects_dir.iterdir() if objects_dir.is_dir() else []):
            components.extend(_object_components(root, package, object_dir))
    return Requirements(root, tuple(components))


def _object_components(root: Path, package: str, object_dir: Path) -> Iterable[Component]:
    name = object_dir.name
    object_file = object_dir / f"{name}.object-meta.xml"
    if name.endswith("__c") and object_file.is_file():
        _parse(object_file)  # a broken file fails here, naming it, rather than at deploy time
        yield Component(name, None, "CustomObject", object_dir.relative_to(root).as_posix(), package)
    for field_file in sorted((object_dir / "fields").glob("*.field-meta.xml")):
        xml = _parse(field_file)
        kind = _text(xml, "type")
        if kind not in DESCRIBE_TYPES:
            raise MetadataError(f"{field_file}: field type {kind!r} is not one LedgerLink checks")
        yield Component(
            object=name,
            field=field_file.name.removesuffix(".field-meta.xml"),
            kind=kind,
            path=field_file.relative_to(root).as_posix(),
            package=package,
            external_id=_text(xml, "externalId").lower() == "true",
            reference_to=_text(xml, "referenceTo") or None,
        )


def _parse(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise MetadataError(f"{path}: {exc}") from exc


def _text(element: ET.Element, tag: str) -> str:
    found = element.find(_NS + tag)
    return (found.text or "").strip() if found is not None else ""


def _deploy_paths(missing: Iterable[Component]) -> list[str]:
    """Source paths for the missing components: a missing custom object's folder brings its fields along."""
    missing = list(missing)
    whole_objects = {c.object for c in missing if c.field is None}
    return [c.path for c in missing if c.field is None or c.object not in whole_objects]


# --- the org -----------------------------------------------------------------------------------------------


def check_org(client: SalesforceClient, requirements: Requirements, *, org: str = "") -> OrgReport:
    """Compare the org's describe with the metadata: what is missing, and what exists with another type."""
    report = OrgReport(org=org, requirements=requirements)
    sobjects = {str(o["name"]).lower(): str(o["name"]) for o in _get(client, "sobjects/").get("sobjects", [])}
    by_object: dict[str, list[Component]] = {}
    for component in requirements.components:
        by_object.setdefault(component.object, []).append(component)
    for obj, components in by_object.items():
        if obj.lower() not in sobjects:
            report.findings.extend(_missing_object(obj, components))
            continue
        describe = _get(client, f"sobjects/{sobjects[obj.lower()]}/describe")
        fields = {str(f["name"]).lower(): f for f in describe.get("fields", [])}
        for component in components:
            if component.field is not None:
                report.findings.extend(_compare_field(component, fields.get(component.field.lower())))
    return report


def check_connection(spec: dict[str, Any], metadata_dir: Path | None = None) -> OrgReport:
    """``check_org`` for a connection spec (as the vault or ``--connections`` give it)."""
    requirements = load_requirements(metadata_dir)
    client = SalesforceClient.from_spec(spec)
    try:
        return check_org(client, requirements, org=str(spec["base_url"]))
    finally:
        client.close()


def _get(client: SalesforceClient, path: str) -> dict[str, Any]:
    body = client.request("GET", path, kind="describe").json()
    return body if isinstance(body, dict) else {}


def _missing_object(obj: str, components: list[Component]) -> Iterable[Finding]:
    custom = next((c for c in components if c.field is None), None)
    fields = [c.field for c in components if c.field is not None]
    if custom is not None:
        yield Finding(custom, "missing", f"custom object missing (with its fields {', '.join(fields)})")
        return
    # A standard object the org does not show: a feature switched off (Orders) or not visible to this user.
    for component in components:
        yield Finding(component, "missing", f"the org has no {obj} object (feature not enabled, or no access)")


def _compare_field(component: Component, described: dict[str, Any] | None) -> Iterable[Finding]:
    expected = DESCRIBE_TYPES[component.kind]
    if described is None:
        yield Finding(component, "missing", f"field missing ({component.kind})")
        return
    actual = str(described.get("type"))
    if actual not in expected:
        yield Finding(
            component, "mismatch", f"is {actual} in the org; LedgerLink needs {component.kind} ({expected[0]})"
        )
    if component.external_id and not described.get("externalId"):
        yield Finding(component, "mismatch", "is not an External ID in the org; LedgerLink upserts on it")
    targets = described.get("referenceTo") or []
    if component.reference_to and targets and component.reference_to not in targets:
        yield Finding(
            component, "mismatch", f"refers to {', '.join(targets)}; LedgerLink needs {component.reference_to}"
        )


# --- the report, for people ----------------------------------------------------------------------------------


def render(report: OrgReport, target_org: str = "<your-org-alias>") -> str:
    lines = [
        f"Salesforce org {report.org}: checked {len(report.requirements.components)} custom objects and fields "
        f"of LedgerLink's metadata ({report.requirements.root})."
    ]
    missing = [f for f in report.failures if f.problem == "missing"]
    mismatched = [f for f in report.failures if f.problem == "mismatch"]
    if report.ok:
        lines.append("All present: every custom object and field LedgerLink's flows use is in the org.")
    if missing:
        lines.append(f"\nMissing ({len(missing)}) — LedgerLink's flows need these:")
        lines += [f"  {f.component.name:<45} {f.detail}" for f in missing]
    if mismatched:
        lines.append(f"\nDifferent in the org ({len(mismatched)}) — fix by hand (a deploy would change existing data):")
        lines += [f"  {f.component.name:<45} {f.detail}" for f in mismatched]
    if report.not_yet_deployed:
        names = ", ".join(f.component.name for f in report.not_yet_deployed)
        lines.append(f"\nNot deployed, for flows not in use yet (no action needed): {names}")
    command = report.deploy_command(target_org)
    if command:
        lines += [
            f"\nTo deploy what is missing, run in {report.requirements.root}:",
            f"  {command}",
            "then give the user LedgerLink connects as the permission set (a field that exists but is hidden from",
            "that user also shows as missing here):",
            f"  {assign_command(target_org)}",
        ]
    return "\n".join(lines)
