"""Source and target paths compiled to closures.

Forms: ``a.b``, ``a.records[]``, ``Addresses[0].Line1``, ``Boxes[Name=Region].Value``.

A leading ``$root.`` reads from the top-level record while building list elements (e.g. the Account country of a line).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Getter = Callable[[Any, Any], Any]  # (record, root) -> value
Setter = Callable[[dict[str, Any], Any], None]

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_$][\w$]*)(?:\[(?P<sel>[^\]]*)\])?\Z")
_SELECTOR = re.compile(r"^(?P<key>[A-Za-z_]\w*)\s*=\s*(?P<quote>['\"]?)(?P<value>[^'\"]*)(?P=quote)$")


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    kind: Literal["field", "each", "index", "select"] = "field"
    index: int = 0
    key: str = ""
    value: str = ""

    def __str__(self) -> str:
        if self.kind == "each":
            return f"{self.name}[]"
        if self.kind == "index":
            return f"{self.name}[{self.index}]"
        if self.kind == "select":
            return f"{self.name}[{self.key}={self.value}]"
        return self.name


@dataclass(frozen=True, slots=True)
class Path:
    text: str
    segments: tuple[Segment, ...]
    from_root: bool = False

    @property
    def is_many(self) -> bool:
        return any(s.kind == "each" for s in self.segments)


def parse_path(text: str) -> Path:
    """Parse a dotted path; raises ValueError naming the bad segment."""
    raw = text.strip()
    from_root = raw.startswith("$root.")
    if from_root:
        raw = raw[len("$root.") :]
    if not raw:
        raise ValueError("empty path")
    segments: list[Segment] = []
    for part in _split_dots(raw):
        match = _SEGMENT.match(part)
        if not match:
            raise ValueError(f"bad path segment {part!r} in {text!r}")
        name, sel = match.group("name"), match.group("sel")
        if sel is None:
            segments.append(Segment(name))
        elif sel == "":
            segments.append(Segment(name, "each"))
        elif sel.isdigit():
            segments.append(Segment(name, "index", index=int(sel)))
        else:
            selector = _SELECTOR.match(sel.strip())
            if not selector:
                raise ValueError(f"bad selector [{sel}] in {text!r}: use [Key=Value], [N] or []")
            segments.append(Segment(name, "select", key=selector.group("key"), value=selector.group("value")))
    return Path(text, tuple(segments), from_root)


def _split_dots(text: str) -> list[str]:
    # Dots inside a selector ([Name=a.b]) do not separate segments.
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "." and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _step(segment: Segment) -> Callable[[Any], Any]:
    """One segment applied to one value (not for ``each``)."""
    name = segment.name
    if segment.kind == "field":
        return lambda v: v.get(name) if isinstance(v, dict) else None
    if segment.kind == "index":
        index = segment.index

        def by_index(v: Any) -> Any:
            items = v.get(name) if isinstance(v, dict) else None
            return items[index] if isinstance(items, list) and index < len(items) else None

        return by_index
    key, wanted = segment.key, segment.value

    def by_selector(v: Any) -> Any:
        items = v.get(name) if isinstance(v, dict) else None
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict) and str(item.get(key)) == wanted:
                    return item
        return None

    return by_selector


def compile_getter(path: Path) -> Getter:
    """A closure reading ``path``; missing steps give None, ``[]`` steps give a (possibly empty) list."""
    segments = path.segments
    pick_root = path.from_root
    if not path.is_many:
        if len(segments) == 1 and segments[0].kind == "field":
            name = segments[0].name
            if pick_root:
                return lambda rec, root: root.get(name)
            return lambda rec, root: rec.get(name)
        if len(segments) == 2 and segments[0].kind == "field" and segments[1].kind == "field":
            first, second = segments[0].name, segments[1].name

            def two(rec: Any, root: Any) -> Any:
                inner = (root if pick_root else rec).get(first)
                return inner.get(second) if isinstance(inner, dict) else None

            return two
        steps = [_step(s) for s in segments]

        def walk(rec: Any, root: Any) -> Any:
            value = root if pick_root else rec
            for step in steps:
                value = step(value)
                if value is None:
                    return None
            return value

        return walk

    plan: list[tuple[bool, Callable[[Any], Any]]] = []
    for segment in segments:
        if segment.kind == "each":
            plan.append((False, _step(Segment(segment.name))))
            plan.append((True, lambda v: v))
        else:
            plan.append((False, _step(segment)))

    def walk_many(rec: Any, root: Any) -> list[Any]:
        values: list[Any] = [root if pick_root else rec]
        for expand, step in plan:
            if expand:
                values = [item for v in values if isinstance(v, list) for item in v]
            else:
                values = [r for r in (step(v) for v in values) if r is not None]
        return values

    return walk_many


def compile_setter(path: Path) -> Setter:
    """A closure writing a value at ``path`` in an output dict, creating dicts and selected list elements on the way."""
    if path.from_root or path.is_many:
        raise ValueError(f"target path {path.text!r} cannot use $root or []")
    segments = path.segments
    if len(segments) == 1 and segments[0].kind == "field":
        name = segments[0].name

        def set_top(out: dict[str, Any], value: Any) -> None:
            out[name] = value

        return set_top
    if len(segments) == 2 and segments[0].kind == "field" and segments[1].kind == "field":
        first, second = segments[0].name, segments[1].name

        def set_two(out: dict[str, Any], value: Any) -> None:
            inner = out.get(first)
            if inner is None:
                out[first] = inner = {}
            inner[second] = value

        return set_two

    *parents, leaf = segments
    if leaf.kind != "field":
        raise ValueError(f"target path {path.text!r} must end in a field name")

    def set_deep(out: dict[str, Any], value: Any) -> None:
        node = out
        for segment in parents:
            node = _descend(node, segment)
        node[leaf.name] = value

    return set_deep


def _descend(node: dict[str, Any], segment: Segment) -> dict[str, Any]:
    if segment.kind == "field":
        child = node.get(segment.name)
        if not isinstance(child, dict):
            node[segment.name] = child = {}
        return child
    items = node.get(segment.name)
    if not isinstance(items, list):
        node[segment.name] = items = []
    if segment.kind == "index":
        while len(items) <= segment.index:
            items.append({})
        element: dict[str, Any] = items[segment.index]
        return element
    for item in items:
        if isinstance(item, dict) and str(item.get(segment.key)) == segment.value:
            return item
    created: dict[str, Any] = {segment.key: segment.value}
    items.append(created)
    return created
