"""The mapping file format, validated with pydantic once at load (never per record)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from ledgerlink.mapping.system_files import template_roots

BOOKS_OWNER = "books"


def _known_owner(value: str) -> str:
    known = ["canonical", BOOKS_OWNER, *sorted(template_roots())]
    if value not in known:
        raise ValueError(f"owner must be one of {', '.join(known)}")
    return value


# The system that owns a field (conflicts go its way): a registered system's name, "books" (whichever accounting
# system is connected), or "canonical".
Owner = Annotated[str, AfterValidator(_known_owner)]
Direction = Literal["to_canonical", "from_canonical", "direct"]
TransformEntry = str | dict[str, Any]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Endpoint(_Spec):
    system: str
    object: str


class FilterSpec(_Spec):
    expr: str


class RuleSpec(_Spec):
    """How one target field is produced: ``from`` a source path (a list of paths gives a tuple), or ``expr`` JSONata."""

    to: str | None = None  # only in the list form of ``fields``
    from_: str | list[str] | None = Field(default=None, alias="from")
    expr: str | None = None
    transforms: list[TransformEntry] = Field(default_factory=list)
    default: Any = None
    required: bool = False
    owner: Owner | None = None
    description: str | None = None
    fields: dict[str, RuleSpec | str] | list[RuleSpec] | None = None

    @field_validator("transforms")
    @classmethod
    def _one_name_per_transform(cls, value: list[TransformEntry]) -> list[TransformEntry]:
        for entry in value:
            if isinstance(entry, dict) and len(entry) != 1:
                raise ValueError("a transform is a name or a mapping with exactly one name: {name: arguments}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> RuleSpec:
        if self.from_ is not None and self.expr is not None:
            raise ValueError("give either 'from' or 'expr', not both")
        if self.from_ is None and self.expr is None and self.default is None and not self.transforms:
            raise ValueError("a rule needs 'from', 'expr', or (for a constant) 'default'")
        if self.fields is not None and self.from_ is None and self.expr is None:
            raise ValueError("'fields' builds list elements and needs 'from' (or 'expr') giving the list")
        return self


class MappingSpec(_Spec):
    description: str | None = None
    source: Endpoint
    target: Endpoint
    direction: Direction
    filter: str | FilterSpec | None = None
    id_field: str | list[str] | None = None  # where apply finds the record id for error messages
    owner: Owner | None = None  # default owner of every field
    fields: dict[str, RuleSpec | str] | list[RuleSpec]

    @field_validator("fields")
    @classmethod
    def _not_empty(
        cls, value: dict[str, RuleSpec | str] | list[RuleSpec]
    ) -> dict[str, RuleSpec | str] | list[RuleSpec]:
        if not value:
            raise ValueError("a mapping needs at least one field")
        return value


RuleSpec.model_rebuild()


def iter_rules(
    fields: dict[str, RuleSpec | str] | list[RuleSpec],
) -> list[tuple[str, RuleSpec, tuple[str | int, ...]]]:
    """(target, rule, position in the YAML) for each entry of a ``fields`` block, whichever of the two forms it uses."""
    out: list[tuple[str, RuleSpec, tuple[str | int, ...]]] = []
    if isinstance(fields, dict):
        for target, rule in fields.items():
            spec = RuleSpec.model_validate({"from": rule}) if isinstance(rule, str) else rule
            out.append((target, spec, (target,)))
    else:
        for index, rule in enumerate(fields):
            if not rule.to:
                raise ValueError(f"fields[{index}] needs 'to' in the list form")
            out.append((rule.to, rule, (index,)))
    return out
