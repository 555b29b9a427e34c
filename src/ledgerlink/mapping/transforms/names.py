"""Personal names: "ContactName" ⇄ (FirstName, LastName); surname particles ("van der Berg") stay with the surname."""

from __future__ import annotations

from typing import Any

from ledgerlink.mapping.context import TransformContext
from ledgerlink.mapping.transforms.registry import TransformFn, expect_mapping, register

# Lower-case particles that start a surname when they follow the first name ("Ludwig van Beethoven").
PARTICLES = frozenset(
    {
        "van",
        "von",
        "der",
        "den",
        "de",
        "del",
        "della",
        "di",
        "da",
        "das",
        "do",
        "dos",
        "du",
        "la",
        "le",
        "lo",
        "ten",
        "ter",
        "te",
        "zu",
        "zum",
        "zur",
        "af",
        "av",
        "bin",
        "ibn",
        "al",
        "el",
    }
)


def split_name(full: str | None) -> tuple[str, str]:
    """("first names", "last name"). One word is a last name (Salesforce requires LastName); blanks give ("", "")."""
    tokens = (full or "").split()
    if not tokens:
        return "", ""
    if len(tokens) == 1:
        return "", tokens[0]
    for index in range(1, len(tokens) - 1):
        if tokens[index].casefold() in PARTICLES:
            return " ".join(tokens[:index]), " ".join(tokens[index:])
    return " ".join(tokens[:-1]), tokens[-1]


def join_name(first: str | None, last: str | None) -> str:
    """ "first last" with blank parts and extra whitespace dropped."""
    return " ".join(" ".join(part.split()) for part in (first, last) if part and part.strip())


@register("split_name")
def make_split_name(args: Any) -> TransformFn:
    """Full name → ``{split_name: first}`` or ``{split_name: last}`` part (None when that part is empty)."""
    part = args if isinstance(args, str) else expect_mapping("split_name", args, {"part"}).get("part", "last")
    if part not in ("first", "last"):
        raise ValueError("split_name takes 'first' or 'last'")
    index = 0 if part == "first" else 1

    def split(value: Any, ctx: TransformContext) -> Any:
        return split_name(str(value))[index] or None

    return split


@register("join_name", handles_none=True)
def make_join_name(args: Any) -> TransformFn:
    """``from: [FirstName, LastName]`` → "First Last" (None when both are blank)."""

    def join(value: Any, ctx: TransformContext) -> Any:
        if value is None:
            return None
        parts = list(value) if isinstance(value, list | tuple) else [value]
        return join_name(*[*parts, None, None][:2]) or None

    return join
