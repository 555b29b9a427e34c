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


def load_yaml_document(text: str, file: str) -> YamlDocument:
    """Parse one YAML document, keeping the node tree for positions; YAML syntax errors become MappingLoadError."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
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
