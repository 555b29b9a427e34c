"""YAML loading that remembers where each node came from, so load errors can name file, line and column."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ledgerlink.mapping.errors import MappingLoadError

Loc = Sequence[str | int]


@dataclass(frozen=True)
class YamlDocument:
    file: str
    data: Any
    root: yaml.Node | None

    def position(self, loc: Loc) -> tuple[int, int]:
        """1-based (line, column) of the deepest node reachable along ``loc``.

        Items of ``loc`` that are not keys in the document (pydantic adds union tags such as ``RuleSpec``) are skipped.
        """
        node = self.root
        if node is None:
            return 1, 1
        mark = node.start_mark
        for item in loc:
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(item):
                        mark = key_node.start_mark
                        node = value_node
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(item, int) and 0 <= item < len(node.value):
                node = node.value[item]
                mark = node.start_mark
        return mark.line + 1, mark.column + 1

    def value_position(self, loc: Loc) -> tuple[int, int]:
        """Like ``position`` but pointing at the value rather than its key (for errors inside an expression)."""
        node = self.root
        for item in loc:
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(item)), node)
            elif isinstance(node, yaml.SequenceNode) and isinstance(item, int) and 0 <= item < len(node.value):
                node = node.value[item]
        if node is None:
            return 1, 1
        return node.start_mark.line + 1, node.start_mark.column + 1

    def error(self, loc: Loc, message: str, *, at_value: bool = False, offset: int = 0) -> MappingLoadError:
        line, column = self.value_position(loc) if at_value else self.position(loc)
        return MappingLoadError(self.file, line, column + offset, message)


# libyaml's loader when PyYAML was built with it: the same nodes and marks, parsed in C (a worker loads every
# mapping at start, for the schema drift check; the pure-Python parser made that about a second of CPU).
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_data(text: str) -> Any:
    """``yaml.safe_load`` through ``_LOADER``: the same plain data, parsed in C where PyYAML has libyaml (the
    drift check lists every mapping and reads the schemas at each worker's start)."""
    return yaml.load(text, Loader=_LOADER)  # _LOADER is a SafeLoader


MAX_TEXT_CHARS = 200_000  # a mapping is a page or two of YAML
MAX_NODES = 20_000


def check_bounds(root: yaml.Node | None, file: str) -> None:
    """Refuse aliases and oversized trees *before* anything is built from the nodes: an alias "bomb" (each
    anchor listing the previous one ten times) is small as text but grows exponentially once expanded."""
    if root is None:
        return
    seen: set[int] = set()
    stack: list[yaml.Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:  # the composer hands back the anchored node again for each alias
            mark = node.start_mark
            raise MappingLoadError(
                file, mark.line + 1, mark.column + 1, "YAML anchors and aliases (&name, *name) are not allowed here"
            )
        seen.add(id(node))
        if len(seen) > MAX_NODES:
            raise MappingLoadError(file, 1, 1, f"the mapping has more than {MAX_NODES} YAML nodes")
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def load_yaml_document(text: str, file: str) -> YamlDocument:
    """Parse one YAML document, keeping the node tree for positions; YAML syntax errors become MappingLoadError."""
    if len(text) > MAX_TEXT_CHARS:
        raise MappingLoadError(file, 1, 1, f"the mapping is longer than {MAX_TEXT_CHARS} characters")
    try:
        loader = _LOADER(text)
        try:
            root = loader.get_single_node()
            check_bounds(root, file)
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise MappingLoadError(file, line, column, f"invalid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise MappingLoadError(file, 1, 1, f"invalid YAML: {exc}") from exc
    return YamlDocument(file=file, data=data, root=root)
