"""The org's objects and fields, declared as data.

``OBJECTS`` below is the standard schema the sandbox knows (standard objects and their standard fields). The
custom objects and fields come from LedgerLink's Salesforce metadata (``metadata.py``), as a deploy would add
them to a real org. ``build_schema`` puts the two together, adds the system fields every object has (Id,
IsDeleted, CreatedDate, …) and the config's ``extra_objects`` / ``extra_fields``. Field names are matched
case-insensitively, as Salesforce does, and always served in their declared spelling.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .metadata import OrgMetadata

# Field types, by describe name. Number types are stored as JSON numbers, date(time)s as Salesforce-format strings.
TEXT_TYPES = {"string", "textarea", "email", "phone", "url", "picklist", "combobox", "encryptedstring"}
NUMBER_TYPES = {"double", "currency", "percent", "int"}
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "base64": "xsd:base64Binary",
}


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str = "string"
    length: int = 0
    required: bool = False  # must be given on create (not nillable, no default)
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    external_id: bool = False
    unique: bool = False
    custom: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    child_relationship: str | None = None  # the parent's name for the list of children (subqueries)
    cascade_delete: bool = False  # deleting the parent deletes this child (master-detail)
    default: Any = None
    precision: int = 0
    scale: int = 0
    picklist_values: tuple[str, ...] = ()
    label: str = ""
    auto_number: str | None = None  # a Python format for the running number, e.g. "PAY-{:06d}"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label or self.name.removesuffix("__c").replace("_", " "),
            "type": self.type,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length,
            "precision": self.precision,
            "scale": self.scale,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.name == "Id" or self.external_id,
            "custom": self.custom,
            "calculated": False,
            "autoNumber": self.auto_number is not None,
            "defaultedOnCreate": self.default is not None or not self.createable,
            "defaultValue": self.default,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "cascadeDelete": self.cascade_delete,
            "filterable": self.type != "textarea" or self.length <= 255,
            "sortable": self.type != "textarea",
            "caseSensitive": False,
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
                for v in self.picklist_values
            ],
        }


@dataclass
class ObjectDef:
    name: str
    key_prefix: str
    custom: bool = False
    label: str = ""
    createable: bool = True
    fields: dict[str, FieldDef] = field(default_factory=dict)  # by lower-case name
    # Filled in by build_schema: child relationship name (lower) -> (child object, lookup field)
    children: dict[str, tuple[str, str]] = field(default_factory=dict)
    # relationship name (lower) -> reference field
    relationships: dict[str, FieldDef] = field(default_factory=dict)

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name.lower())

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields.values()]

    @property
    def external_id_fields(self) -> list[FieldDef]:
        return [f for f in self.fields.values() if f.external_id]

    @property
    def indexed_fields(self) -> list[FieldDef]:
        """Fields kept in the lookup index: external ids and references (for children and point look-ups)."""
        return [f for f in self.fields.values() if f.external_id or f.type == "reference"]


def _f(name: str, type_: str = "string", length: int = 0, **kw: Any) -> FieldDef:
    if type_ in ("string", "phone", "url", "email", "picklist") and not length:
        length = {"phone": 40, "email": 80, "picklist": 255}.get(type_, 255)
    if type_ == "textarea" and not length:
        length = 32000
    if type_ in ("currency", "double"):
        kw.setdefault("precision", 18)
        kw.setdefault("scale", 2)
    kw.setdefault("custom", name.endswith("__c"))
    return FieldDef(name=name, type=type_, length=length, **kw)


def _ref(name: str, to: str, rel: str, child: str | None = None, **kw: Any) -> FieldDef:
    return _f(name, "reference", 18, reference_to=(to,), relationship_name=rel, child_relationship=child, **kw)


def _ro(name: str, type_: str = "string", length: int = 0, **kw: Any) -> FieldDef:
    return _f(name, type_, length, createable=False, updateable=False, **kw)


def _req(name: str, type_: str = "string", length: int = 0, **kw: Any) -> FieldDef:
    return _f(name, type_, length, required=True, nillable=False, **kw)


OPPORTUNITY_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)

# The declared schema. System fields (Id, audit fields, IsDeleted) are added by build_schema.
OBJECTS: dict[str, dict[str, Any]] = {
    "User": {
        "prefix": "005",
        "createable": False,
        "fields": [
            _f("Username", length=80),
            _f("LastName", length=80),
            _f("FirstName", length=40),
            _ro("Name", length=121),
            _f("Email", "email"),
            _f("IsActive", "boolean", default=True),
        ],
    },
    "Account": {
        "prefix": "001",
        "fields": [
            _req("Name"),
            _f("AccountNumber", length=40),
            _f("BillingStreet", "textarea", 255),
            _f("BillingCity", length=40),
            _f("BillingState", length=80),
            _f("BillingPostalCode", length=20),
            _f("BillingCountry", length=80),
            _f("ShippingStreet", "textarea", 255),
            _f("ShippingCity", length=40),
            _f("ShippingState", length=80),
            _f("ShippingPostalCode", length=20),
            _f("ShippingCountry", length=80),
            _f("Phone", "phone"),
            _f("Website", "url"),
            _f("Industry", "picklist"),
            _f("Type", "picklist"),
            _f("Description", "textarea"),
            _f("NumberOfEmployees", "int", precision=8),
            _f("AnnualRevenue", "currency"),
            _ref("ParentId", "Account", "Parent", "ChildAccounts"),
        ],
    },
    "Contact": {
        "prefix": "003",
        "fields": [
            _req("LastName", length=80),
            _f("FirstName", length=40),
            _ro("Name", length=121),
            _f("Email", "email"),
            _f("Phone", "phone"),
            _f("MobilePhone", "phone"),
            _f("Title", length=128),
            _ref("AccountId", "Account", "Account", "Contacts", cascade_delete=True),
            _f("MailingStreet", "textarea", 255),
            _f("MailingCity", length=40),
            _f("MailingPostalCode", length=20),
            _f("MailingCountry", length=80),
        ],
    },
    "Product2": {
        "prefix": "01t",
        "fields": [
            _req("Name"),
            _f("ProductCode", length=255),
            _f("IsActive", "boolean", default=False),
            _f("Family", "picklist"),
            _f("Description", "textarea", 4000),
        ],
    },
    "Pricebook2": {
        "prefix": "01s",
        "fields": [
            _req("Name"),
            _f("IsActive", "boolean", default=False),
            _ro("IsStandard", "boolean", default=False),
            _f("Description", "textarea", 255),
        ],
    },
    "PricebookEntry": {
        "prefix": "01u",
        "fields": [
            _req(
                "Pricebook2Id",
                "reference",
                18,
                reference_to=("Pricebook2",),
                relationship_name="Pricebook2",
                child_relationship="PricebookEntries",
                updateable=False,
            ),
            _req(
                "Product2Id",
                "reference",
                18,
                reference_to=("Product2",),
                relationship_name="Product2",
                child_relationship="PricebookEntries",
                updateable=False,
            ),
            _req("UnitPrice", "currency"),
            _f("IsActive", "boolean", default=False),
            _f("UseStandardPrice", "boolean", default=False),
            _ro("Name"),
            _ro("ProductCode"),
        ],
    },
    "Opportunity": {
        "prefix": "006",
        "fields": [
            _req("Name", length=120),
            _req("StageName", "picklist", picklist_values=OPPORTUNITY_STAGES),
            _req("CloseDate", "date"),
            _f("Amount", "currency"),
            _f("Probability", "percent"),
            _ref("AccountId", "Account", "Account", "Opportunities", cascade_delete=True),
            _ref("ContactId", "Contact", "Contact", "Opportunities"),
            _ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Opportunities"),
            _f("Description", "textarea"),
            _f("Type", "picklist"),
            _f("LeadSource", "picklist"),
            _ro("IsWon", "boolean", default=False),
            _ro("IsClosed", "boolean", default=False),
            _ro("HasOpportunityLineItem", "boolean", default=False),
        ],
    },
    "OpportunityLineItem": {
        "prefix": "00k",
        "fields": [
            _req(
                "OpportunityId",
                "reference",
                18,
                reference_to=("Opportunity",),
                relationship_name="Opportunity",
                child_relationship="OpportunityLineItems",
                cascade_delete=True,
                updateable=False,
            ),
            _req(
                "PricebookEntryId",
                "reference",
                18,
                reference_to=("PricebookEntry",),
                relationship_name="PricebookEntry",
                child_relationship="OpportunityLineItems",
                updateable=False,
            ),
            _ro("Product2Id", "reference", 18, reference_to=("Product2",), relationship_name="Product2"),
            _ro("Name", length=376),
            _ro("ProductCode"),
            _f("Quantity", "double", default=1),
            _f("UnitPrice", "currency"),
            _ro("TotalPrice", "currency"),
            _f("ServiceDate", "date"),
            _f("Description", length=255),
        ],
    },
    "Order": {
        "prefix": "801",
        "fields": [
            _req(
                "AccountId",
                "reference",
                18,
                reference_to=("Account",),
                relationship_name="Account",
                child_relationship="Orders",
            ),
            _req("EffectiveDate", "date"),
            _req("Status", "picklist", default="Draft", picklist_values=("Draft", "Activated")),
            _ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Orders"),
            _ref("OpportunityId", "Opportunity", "Opportunity", "Orders"),
            _ro("OrderNumber", length=30),
            _ro("TotalAmount", "currency"),
            _f("Description", "textarea"),
            _f("Name", length=80),
        ],
    },
    "OrderItem": {
        "prefix": "802",
        "fields": [
            _req(
                "OrderId",
                "reference",
                18,
                reference_to=("Order",),
                relationship_name="Order",
                child_relationship="OrderItems",
                cascade_delete=True,
                updateable=False,
            ),
            _req(
                "PricebookEntryId",
                "reference",
                18,
                reference_to=("PricebookEntry",),
                relationship_name="PricebookEntry",
                child_relationship="OrderItems",
                updateable=False,
            ),
            _ro("Product2Id", "reference", 18, reference_to=("Product2",), relationship_name="Product2"),
            _req("Quantity", "double"),
            _req("UnitPrice", "currency"),
            _ro("TotalPrice", "currency"),
            _ro("OrderItemNumber", length=30),
            _f("Description", length=255),
        ],
    },
    "Case": {
        "prefix": "500",
        "fields": [
            _ro("CaseNumber", length=30),
            _f("Subject", length=255),
            _f("Status", "picklist", default="New", picklist_values=("New", "Working", "Escalated", "Closed")),
            _f("Priority", "picklist", default="Medium", picklist_values=("High", "Medium", "Low")),
            _f("Origin", "picklist", picklist_values=("Phone", "Email", "Web")),
            _f("Description", "textarea"),
            _ref("AccountId", "Account", "Account", "Cases", cascade_delete=True),
            _ref("ContactId", "Contact", "Contact", "Cases"),
            _ro("IsClosed", "boolean", default=False),
            _ro("ClosedDate", "datetime"),
        ],
    },
    "ContentDocument": {
        "prefix": "069",
        "createable": False,
        "fields": [
            _f("Title", length=255),
            _ro(
                "LatestPublishedVersionId",
                "reference",
                18,
                reference_to=("ContentVersion",),
                relationship_name="LatestPublishedVersion",
            ),
            _ro("FileExtension", length=40),
            _ro("FileType", length=20),
            _ro("ContentSize", "int"),
        ],
    },
    "ContentVersion": {
        "prefix": "068",
        "fields": [
            _req("Title", length=255),
            _req("PathOnClient", length=500, updateable=False),
            _req("VersionData", "base64", updateable=False),
            _f("Description", "textarea", 1000),
            _f(
                "FirstPublishLocationId",
                "reference",
                18,
                reference_to=("Account", "Contact", "Opportunity", "Case"),
                relationship_name="FirstPublishLocation",
                updateable=False,
            ),
            _ro(
                "ContentDocumentId",
                "reference",
                18,
                reference_to=("ContentDocument",),
                relationship_name="ContentDocument",
                child_relationship="ContentVersions",
            ),
            _ro("ContentSize", "int"),
            _ro("FileExtension", length=40),
            _ro("FileType", length=20),
            _ro("VersionNumber", length=20),
            _ro("IsLatest", "boolean", default=True),
        ],
    },
    "ContentDocumentLink": {
        "prefix": "06A",
        "fields": [
            _req(
                "ContentDocumentId",
                "reference",
                18,
                reference_to=("ContentDocument",),
                relationship_name="ContentDocument",
                child_relationship="ContentDocumentLinks",
                cascade_delete=True,
                updateable=False,
            ),
            _req(
                "LinkedEntityId",
                "reference",
                18,
                reference_to=("Account", "Contact", "Opportunity", "Case"),
                relationship_name="LinkedEntity",
                child_relationship="ContentDocumentLinks",
                updateable=False,
            ),
            _f("ShareType", "picklist", length=40, default="V", picklist_values=("V", "C", "I")),
            _f("Visibility", "picklist", length=40, default="AllUsers"),
        ],
    },
}

# Auto-number formats of standard read-only fields (custom objects declare theirs in the metadata).
AUTO_NUMBERS: dict[tuple[str, str], str] = {
    ("Case", "CaseNumber"): "{:08d}",
    ("Order", "OrderNumber"): "{:08d}",
    ("OrderItem", "OrderItemNumber"): "{:010d}",
}


def _system_fields() -> list[FieldDef]:
    return [
        FieldDef("Id", "id", 18, createable=False, updateable=False, nillable=False),
        FieldDef("IsDeleted", "boolean", createable=False, updateable=False, nillable=False, default=False),
        FieldDef("CreatedDate", "datetime", createable=False, updateable=False, nillable=False),
        FieldDef(
            "CreatedById",
            "reference",
            18,
            createable=False,
            updateable=False,
            nillable=False,
            reference_to=("User",),
            relationship_name="CreatedBy",
        ),
        FieldDef("LastModifiedDate", "datetime", createable=False, updateable=False, nillable=False),
        FieldDef(
            "LastModifiedById",
            "reference",
            18,
            createable=False,
            updateable=False,
            nillable=False,
            reference_to=("User",),
            relationship_name="LastModifiedBy",
        ),
        FieldDef("SystemModstamp", "datetime", createable=False, updateable=False, nillable=False),
    ]


SYSTEM_FIELD_NAMES = {f.name for f in _system_fields()}


def _field_from_spec(name: str, spec: dict[str, Any]) -> FieldDef:
    spec = dict(spec)
    type_ = spec.pop("type", "string")
    length = spec.pop("length", 0)
    for key in ("reference_to", "picklist_values"):
        if key in spec:
            spec[key] = tuple(spec[key])
    if spec.get("required"):
        spec.setdefault("nillable", False)
    return _f(name, type_, length, **spec)


class Schema:
    """All objects of the org, looked up case-insensitively."""

    def __init__(self, objects: list[ObjectDef]) -> None:
        self.objects: dict[str, ObjectDef] = {o.name.lower(): o for o in objects}
        self.by_prefix: dict[str, ObjectDef] = {o.key_prefix: o for o in objects}
        for obj in objects:
            for fdef in obj.fields.values():
                if fdef.type != "reference":
                    continue
                if fdef.relationship_name:
                    obj.relationships[fdef.relationship_name.lower()] = fdef
                if fdef.child_relationship:
                    for target in fdef.reference_to:
                        parent = self.objects.get(target.lower())
                        if parent is not None:
                            parent.children[fdef.child_relationship.lower()] = (obj.name, fdef.name)

    def get(self, name: str) -> ObjectDef | None:
        return self.objects.get(name.lower())

    def for_id(self, record_id: str) -> ObjectDef | None:
        return self.by_prefix.get(record_id[:3])


def build_schema(
    metadata: OrgMetadata | None = None,
    extra_objects: dict[str, dict[str, Any]] | None = None,
    extra_fields: dict[str, dict[str, dict[str, Any]]] | None = None,
) -> Schema:
    """The standard objects, plus what ``metadata`` deploys, plus the config's extras (in that order)."""
    declared: dict[str, dict[str, Any]] = {
        name: {
            "prefix": d["prefix"],
            "custom": d.get("custom", False),
            "createable": d.get("createable", True),
            "fields": [
                replace(f, auto_number=AUTO_NUMBERS[(name, f.name)]) if (name, f.name) in AUTO_NUMBERS else f
                for f in d["fields"]
            ],
        }
        for name, d in OBJECTS.items()
    }
    labels: dict[str, str] = {}
    if metadata is not None:
        for obj in metadata.objects.values():
            fields = [obj.name_field]
            declared[obj.name] = {"prefix": obj.key_prefix, "custom": True, "createable": True, "fields": fields}
            labels[obj.name] = obj.label
        for obj_name, fdefs in metadata.fields.items():
            if obj_name not in declared:
                raise ValueError(f"the metadata in {metadata.root} adds fields to unknown object {obj_name}")
            declared[obj_name]["fields"].extend(fdefs)
    for name, spec in (extra_objects or {}).items():
        fields = [_field_from_spec(fname, fspec) for fname, fspec in spec.get("fields", {}).items()]
        if not any(f.name == "Name" for f in fields):
            fields.insert(0, _f("Name", length=80))
        declared[name] = {
            "prefix": spec["key_prefix"],
            "custom": name.endswith("__c"),
            "createable": True,
            "fields": fields,
        }
    for obj_name, extra in (extra_fields or {}).items():
        if obj_name not in declared:
            raise ValueError(f"extra_fields names unknown object {obj_name!r}")
        declared[obj_name]["fields"].extend(_field_from_spec(n, s) for n, s in extra.items())
    objects = []
    for name, d in declared.items():
        by_name = {f.name.lower(): f for f in _system_fields()}
        for fdef in d["fields"]:
            by_name[fdef.name.lower()] = replace(fdef, custom=fdef.name.endswith("__c"))
        objects.append(
            ObjectDef(
                name=name,
                key_prefix=d["prefix"],
                custom=d["custom"],
                createable=d["createable"],
                label=labels.get(name) or name.removesuffix("__c").replace("_", " "),
                fields=by_name,
            )
        )
    return Schema(objects)
