"""Street addresses: a street block with newlines ⇄ a list of lines; long lines are wrapped, never truncated."""

from __future__ import annotations

import textwrap
from typing import Any

from ledgerlink.mapping.context import TransformContext
from ledgerlink.mapping.transforms.registry import TransformFn, expect_mapping, register

ADDRESS_PARTS = ("lines", "city", "region", "postcode", "country")


def split_address(street: str | None, width: int = 255, max_lines: int | None = 4) -> list[str]:
    """Street text → lines: split at newlines, drop blank lines, wrap lines longer than ``width`` at spaces.

    When there are more than ``max_lines`` lines the overflow is joined onto the last line with ", " so nothing is lost.
    """
    lines: list[str] = []
    for raw in (street or "").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = " ".join(raw.split())
        if not line:
            continue
        if len(line) <= width:
            lines.append(line)
        else:
            lines.extend(textwrap.wrap(line, width=width, break_long_words=True, break_on_hyphens=False))
    if max_lines is not None and len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], ", ".join(lines[max_lines - 1 :])]
    return lines


def join_address(lines: Any, separator: str = "\n", skip: int = 0) -> str:
    """Lines (a list, or an address dict with ``lines``, city, region, postcode, country) → one text block.

    ``skip`` leaves out the first parts (an API whose second line holds every line after the first).
    """
    if isinstance(lines, dict):
        parts = [*(lines.get("lines") or []), *(lines.get(key) for key in ADDRESS_PARTS[1:])]
    elif isinstance(lines, str):
        parts = [lines]
    else:
        parts = list(lines or [])
    kept = [" ".join(str(p).split()) for p in parts[skip:] if p is not None and str(p).strip()]
    return separator.join(kept)


@register("split_address")
def make_split_address(args: Any) -> TransformFn:
    """Street with newlines → list of lines. ``{split_address: {width: 60, max_lines: 4}}``."""
    options = expect_mapping("split_address", args, {"width", "max_lines"})
    width, max_lines = int(options.get("width", 255)), options.get("max_lines", 4)
    if width < 10:
        raise ValueError("split_address width must be at least 10")

    def split(value: Any, ctx: TransformContext) -> Any:
        # ``from: [Line1, Line2]`` gives parts that are each already a line.
        text = "\n".join(str(v) for v in value if v is not None) if isinstance(value, list | tuple) else str(value)
        return split_address(text, width, None if max_lines is None else int(max_lines)) or None

    return split


@register("join_address", handles_none=True)
def make_join_address(args: Any) -> TransformFn:
    """List of lines (or an address dict) → text joined by newlines; ``{join_address: {separator: ", ", skip: 1}}``."""
    options = expect_mapping("join_address", args, {"separator", "skip"})
    separator, skip = str(options.get("separator", "\n")), int(options.get("skip", 0))

    def join(value: Any, ctx: TransformContext) -> Any:
        if value is None:
            return None
        return join_address(value, separator, skip) or None

    return join
