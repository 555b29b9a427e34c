"""A user-defined flow as data: a trigger, conditions combined with AND/OR, branches, and actions from a catalogue.

Definitions arrive as YAML (the builder writes it; people may too) and everything in them is bounded: the text's
size, how deep conditions and branches nest, how many steps there are, every string's length. A definition names
systems by role (``crm`` / ``accounting``), never by name: the registry says which system plays the role.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

MAX_TEXT = 64_000  # characters of YAML
MAX_DEPTH = 6  # nested conditions and branches
MAX_STEPS = 40  # actions and branches in all
MAX_WAIT_SECONDS = 86_400

NAME = r"^[a-z][a-z0-9_]{1,47}$"
FIELD_PATH = r"^[A-Za-z][A-Za-z0-9_]{0,79}(\.[A-Za-z][A-Za-z0-9_]{0,79}){0,3}$"
OBJECT = r"^[A-Za-z][A-Za-z0-9_]{0,79}$"
Short = Annotated[str, Field(max_length=200)]
Text = Annotated[str, Field(max_length=2000)]
FieldPath = Annotated[str, Field(pattern=FIELD_PATH)]
Role = Literal["crm", "accounting"]


class DefinitionError(ValueError):
    """A definition that cannot be used; ``problems`` are "where: what" lines a person can act on."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


# --- trigger ---------------------------------------------------------------------------------------------------


class Trigger(_Model):
    role: Role = "crm"
    object: Annotated[str, Field(pattern=OBJECT)]
    event: Literal["created", "updated", "field_changed", "schedule"]
    field: FieldPath | None = None  # field_changed: the field watched
    every_minutes: int | None = Field(default=None, ge=1, le=10_080)  # schedule

    @model_validator(mode="after")
    def _complete(self) -> Trigger:
        if self.event == "field_changed" and not self.field:
            raise ValueError("a field_changed trigger names the field it watches (field)")
        if self.role != "crm":
            # The books have no change feed for every object; trigger on the CRM record the built-in flows write
            # back to (e.g. Opportunity.Invoice_Status__c, which payment_sync sets when a payment arrives).
            raise ValueError("a trigger on the accounting side is not supported yet: trigger on a CRM object")
        if self.event == "schedule" and not self.every_minutes:
            raise ValueError("a schedule trigger says how often (every_minutes)")
        return self


# --- conditions ------------------------------------------------------------------------------------------------

Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "is_empty", "not_empty"]
Scalar = str | bool | int | float | Decimal | None


class Compare(_Model):
    field: FieldPath
    op: Op = "eq"
    value: Scalar | list[Scalar] = None

    @field_validator("value")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) > 100:
            raise ValueError("at most 100 values in a list")
        if isinstance(value, str) and len(value) > 500:
            raise ValueError("a value is at most 500 characters")
        return value


class All(_Model):
    all: list[Condition] = Field(min_length=1, max_length=50)


class Any_(_Model):
    any: list[Condition] = Field(min_length=1, max_length=50)


def _condition_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "All" if "all" in value else "Any" if "any" in value else "Compare"
    return "All" if isinstance(value, All) else "Any" if isinstance(value, Any_) else "Compare"


# A condition is a comparison, or all/any of conditions: told apart by their keys, so an error speaks of one.
Condition = Annotated[
    Annotated[Compare, Tag("Compare")] | Annotated[All, Tag("All")] | Annotated[Any_, Tag("Any")],
    Discriminator(_condition_kind),
]

# --- actions ---------------------------------------------------------------------------------------------------


class MapInvoice(_Model):
    action: Literal["map_invoice"]
    mapping: Annotated[
        str, Field(pattern=r"^[a-z0-9_]{1,80}$")
    ]  # a template of the trigger's system, e.g. order_to_canonical


class AddLine(_Model):
    action: Literal["add_line"]
    description: Annotated[str, Field(min_length=1, max_length=200)]
    percent: Decimal | None = Field(default=None, ge=-100, le=100)  # of the lines' net total (negative: a discount)
    amount: Decimal | None = Field(default=None, ge=-1_000_000, le=1_000_000)
    tax_rate: Decimal | None = Field(default=None, ge=0, le=100)  # default: the first line's

    @model_validator(mode="after")
    def _one(self) -> AddLine:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("add_line takes a percent or an amount (one of them)")
        return self


class SplitBy(_Model):
    action: Literal["split_by"]
    line_field: FieldPath  # a field of the source lines, e.g. Project__c


class CreateInvoice(_Model):
    action: Literal["create_invoice"]


class UpdateRecord(_Model):
    action: Literal["update_record"]
    role: Role = "crm"
    object: Annotated[str, Field(pattern=OBJECT)] | None = None  # default: the trigger's object (the record itself)
    record: FieldPath | None = None  # the field holding the id of the record to update (e.g. AccountId)
    set: dict[Annotated[str, Field(pattern=OBJECT)], Text] = Field(min_length=1, max_length=30)


class CreateRecord(_Model):
    action: Literal["create_record"]
    role: Role = "crm"
    object: Annotated[str, Field(pattern=OBJECT)]
    set: dict[Annotated[str, Field(pattern=OBJECT)], Text] = Field(min_length=1, max_length=30)
    # An external-id field of the object: the create becomes an upsert on it (the CRM itself keeps the key, so a
    # retried create can never make a second record). Without it: looked up in the ledger, then created.
    key_field: Annotated[str, Field(pattern=OBJECT)] | None = None


class OpenCase(_Model):
    action: Literal["open_case"]
    subject: Short
    description: Text = ""


class CloseCase(_Model):
    action: Literal["close_case"]
    status: Short = "Closed"
    opened_by: Annotated[str, Field(pattern=NAME)] | None = None  # the definition that opened it; default: this one


class Notify(_Model):
    action: Literal["notify"]
    channel: Literal["slack", "teams", "email"]
    to: Annotated[str, Field(min_length=3, max_length=2000)]  # a webhook URL, or e-mail addresses (comma-separated)
    title: Short = "LedgerLink"
    message: Text


class Webhook(_Model):
    action: Literal["webhook"]
    url: Annotated[str, Field(min_length=8, max_length=2000)]
    body: dict[Annotated[str, Field(max_length=80)], Text] = Field(default_factory=dict, max_length=30)


class Wait(_Model):
    action: Literal["wait"]
    seconds: int = Field(ge=1, le=MAX_WAIT_SECONDS)


Action = Annotated[
    MapInvoice
    | AddLine
    | SplitBy
    | CreateInvoice
    | UpdateRecord
    | CreateRecord
    | OpenCase
    | CloseCase
    | Notify
    | Webhook
    | Wait,
    Field(discriminator="action"),
]
ACTIONS = (
    "map_invoice",
    "add_line",
    "split_by",
    "create_invoice",
    "update_record",
    "create_record",
    "open_case",
    "close_case",
    "notify",
    "webhook",
    "wait",
)


class Branch(_Model):
    if_: Condition = Field(alias="if")
    then: list[Step] = Field(default_factory=list, max_length=MAX_STEPS)
    else_: list[Step] = Field(default_factory=list, alias="else", max_length=MAX_STEPS)


def _step_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "Branch" if "if" in value else "Action"
    return "Branch" if isinstance(value, Branch) else "Action"


Step = Annotated[Annotated[Action, Tag("Action")] | Annotated[Branch, Tag("Branch")], Discriminator(_step_kind)]


class Definition(_Model):
    name: Annotated[str, Field(pattern=NAME)]
    description: Annotated[str, Field(max_length=500)] = ""
    trigger: Trigger
    when: Condition | None = None  # records that don't match are skipped
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)

    @model_validator(mode="after")
    def _bounded(self) -> Definition:
        for where, action in walk_actions(self.steps):
            other = isinstance(action, UpdateRecord) and action.object and action.object != self.trigger.object
            if other and not action.record:
                raise ValueError(
                    f"{where}: updating another object ({action.object}) needs record: the field holding its id"
                )
        count, depth = _measure(self.steps, 1)
        if count > MAX_STEPS:
            raise ValueError(f"{count} steps: at most {MAX_STEPS}")
        if depth > MAX_DEPTH:
            raise ValueError(f"branches nest {depth} deep: at most {MAX_DEPTH}")
        for cond in [self.when, *_branch_conditions(self.steps)]:
            if cond is not None and condition_depth(cond) > MAX_DEPTH:
                raise ValueError(f"conditions nest deeper than {MAX_DEPTH}")
        return self

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=False)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


All.model_rebuild()
Any_.model_rebuild()
Branch.model_rebuild()
Definition.model_rebuild()


def _measure(steps: list[Step], depth: int) -> tuple[int, int]:
    count, deepest = 0, depth
    for step in steps:
        count += 1
        if isinstance(step, Branch):
            for inner in (step.then, step.else_):
                c, d = _measure(inner, depth + 1)
                count, deepest = count + c, max(deepest, d)
    return count, deepest


def _branch_conditions(steps: list[Step]) -> list[Condition]:
    found: list[Condition] = []
    for step in steps:
        if isinstance(step, Branch):
            found.append(step.if_)
            found += _branch_conditions(step.then) + _branch_conditions(step.else_)
    return found


def condition_depth(cond: Condition) -> int:
    if isinstance(cond, All):
        return 1 + max(condition_depth(c) for c in cond.all)
    if isinstance(cond, Any_):
        return 1 + max(condition_depth(c) for c in cond.any)
    return 1


def walk_actions(steps: list[Step], path: str = "steps") -> list[tuple[str, Any]]:
    """Every action with where it is (``steps[2].then[0]``), branches included."""
    found: list[tuple[str, Any]] = []
    for i, step in enumerate(steps):
        here = f"{path}[{i}]"
        if isinstance(step, Branch):
            found += walk_actions(step.then, f"{here}.then") + walk_actions(step.else_, f"{here}.else")
        else:
            found.append((here, step))
    return found


_YAML_ALIAS = re.compile(r"(^|[\s\[{,:])[&*][A-Za-z0-9_]")


def parse(text: str) -> Definition:
    """YAML text → a validated definition, or ``DefinitionError`` naming every problem's place."""
    if len(text) > MAX_TEXT:
        raise DefinitionError([f"definition: {len(text)} characters; at most {MAX_TEXT}"])
    if _YAML_ALIAS.search(text):  # anchors and aliases would let a small text expand without bound
        raise DefinitionError(["definition: YAML anchors and aliases (&, *) are not allowed"])
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "definition"
        raise DefinitionError([f"{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})"]) from None
    return from_data(data)


def from_data(data: Any) -> Definition:
    if not isinstance(data, dict):
        raise DefinitionError(["definition: expected a mapping with name, trigger and steps"])
    try:
        return Definition.model_validate(data)
    except ValidationError as exc:
        raise DefinitionError(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for error in exc.errors()[:20]:
        where = _where(error["loc"]) or "definition"
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            problems.append(f"{where}: the action must be one of {', '.join(ACTIONS)}")
            continue
        problems.append(f"{where}: {error['msg']}")  # never the input: it may be a secret URL
    return list(dict.fromkeys(problems))


def _where(loc: tuple[Any, ...]) -> str:
    """pydantic's location without the union members' class names: ``steps[0].then[1].percent``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and (part[:1].isupper() or "[" in part or part.startswith("function-")):
            continue  # a union member's name (Compare, MapInvoice, …): not where the user wrote anything
        elif part in ACTIONS:
            continue  # the discriminator's tag
        else:
            out += f".{part}" if out else str(part)
    return out
