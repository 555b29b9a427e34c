"""Checks the schema folders of the mapping-suggestion benchmark without scoring anything.

    python benchmarks/check_schemas.py

Each JSON file loads with ``load_schema``; each ``gold.json`` entry names a file of its folder and only fields that
file has; concepts of each later folder (``schemas_fresh`` to ``schemas_held7``) that no earlier folder's key used are
listed (they must be new on purpose).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ledgerlink.intelligence.suggest import load_schema

DATA = Path(__file__).parent / "data"
FOLDERS = (
    "schemas",
    "schemas_fresh",
    "schemas_held3",
    "schemas_held4",
    "schemas_held5",
    "schemas_held6",
    "schemas_held7",
)


def problems(folder: Path) -> tuple[list[str], set[str], dict[str, tuple[int, int]]]:
    """The problems found, the concepts used and, per object, (fields, fields with a concept)."""
    found: list[str] = []
    gold: dict[str, dict[str, list[str]]] = json.loads((folder / "gold.json").read_text())
    fields: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.json")):
        if path.name == "gold.json":
            continue
        schema = load_schema(path)
        fields[f"{schema.system}/{schema.object}"] = {f.name for f in schema.fields}
    counts = {}
    concepts: set[str] = set()
    for key, labels in gold.items():
        if key not in fields:
            found.append(f"{folder.name}/gold.json: {key} has no schema file")
            continue
        for name, held in labels.items():
            concepts.update(held)
            if name not in fields[key]:
                found.append(f"{folder.name}/gold.json: {key} has no field {name!r}")
            if not held:
                found.append(f"{folder.name}/gold.json: {key}.{name} has an empty concept list")
        counts[key] = (len(fields[key]), len(labels))
    found += [f"{folder.name}: {key} has no gold.json entry" for key in fields if key not in gold]
    return found, concepts, counts


def main() -> int:
    known: set[str] = set()
    failed = False
    for name in FOLDERS:
        found, concepts, counts = problems(DATA / name)
        for line in found:
            print(line)
        failed = failed or bool(found)
        for key, (total, labelled) in counts.items():
            print(f"{name:14} {key:32} {total:4} fields, {labelled:3} with a concept")
        if name != FOLDERS[0]:
            earlier = " or ".join(f"{folder}/gold.json" for folder in FOLDERS[: FOLDERS.index(name)])
            print(f"{name}: concepts not in {earlier}: {sorted(concepts - known) or 'none'}")
        known |= concepts
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
