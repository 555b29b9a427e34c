"""The code a benchmark phase runs, each in a world of its own: this working tree's, or a baseline commit's whole
tree (its sandboxes, its demo seeder, its migrations and its workers), so a "before" is the code as it was, against
the sandboxes of its day, not against today's.

A ``Code`` is a copy of one tree's ``src/`` in a temporary folder, with:
- the package metadata that tree's ``pyproject.toml`` declares (``<name>-<version>.dist-info`` with its entry
  points, beside the package): sandboxes and systems are found through entry points, and without it the venv's
  editable install of /work/main would answer for every tree;
- bytecode, compiled before the phase and not counted (``compileall``), as a deployed install has it. This
  machine sets ``PYTHONDONTWRITEBYTECODE=1``, which the workers inherit: without this every worker would compile
  ~180 LedgerLink modules from source at each start (~0.1 s CPU). ``bytecode=False`` keeps that, for both sides
  alike (how rounds 1-3 measured).

Everything of LedgerLink's then runs in subprocesses with ``env()``: that ``src/`` alone on ``PYTHONPATH`` (nothing
of the benchmark's own tree behind it). What stays the benchmark's own, the same for both sides, is the harness:
the glue that serves a sandbox in a process (``_sandboxes.py``: its ``ledgerlink.sandbox`` is the tree's), the
HTTP calls that count invoices and close deals, and the CPU read from ``/proc``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Code:
    label: str  # "this tree" or "baseline"
    src: Path  # the copy's src/ folder
    ref: str  # the commit ("+": with uncommitted changes)

    def env(self, base: dict[str, str] | None = None, *, bytecode: bool = True) -> dict[str, str]:
        """``base`` (default: this process's environment) with this tree's ``src/`` alone on ``PYTHONPATH``."""
        env = dict(os.environ if base is None else base)
        env["PYTHONPATH"] = str(self.src)
        if not bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"  # compile at every start, and leave no bytecode behind
        return env

    def python(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, *args], env=self.env(env), check=True)

    def constant(self, module: str, name: str) -> str:
        """A module-level string of this tree (e.g. the field an invoice number is written back to, which was
        ``KashFlow_Invoice_Number__c`` at 2d38ac5), read in a subprocess."""
        return subprocess.run(
            [sys.executable, "-c", f"from {module} import {name}; print({name})"],
            env=self.env(),
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()


def this_tree(into: Path, *, bytecode: bool = True) -> Code:
    """A copy of this working tree as ``git archive`` would give a commit of it: every file git knows or would add
    (uncommitted changes included, ignored files left out). The Salesforce sandbox reads ``salesforce/``."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a file deleted but not yet committed is still listed
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True).stdout
    return _prepared(Code("this tree", into / "src", head + ("+" if dirty.strip() else "")), into, bytecode)


def baseline(commit: str, into: Path, *, bytecode: bool = True) -> Code:
    """``commit``'s whole tree (``git archive``), unpacked into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", commit], check=True, capture_output=True, text=True
    ).stdout.strip()
    return _prepared(Code("baseline", into / "src", sha), into, bytecode)


def _prepared(code: Code, root: Path, bytecode: bool) -> Code:
    _write_metadata(root / "pyproject.toml", code.src)
    if bytecode:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "-j", "0", str(code.src)],
            env=code.env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    # The tree answers for itself: its ledgerlink, not the editable install's.
    where = subprocess.run(
        [sys.executable, "-c", "import ledgerlink; print(ledgerlink.__file__)"],
        env=code.env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not Path(where).resolve().is_relative_to(code.src.resolve()):
        raise RuntimeError(f"{code.ref}: ledgerlink imports from {where}, not from {code.src}")
    return code


def _write_metadata(pyproject: Path, src: Path) -> None:
    """The ``.dist-info`` an install of this tree would have (name, version, entry points), beside its package:
    ``importlib.metadata`` takes the first distribution of a name on ``sys.path``, so it shadows the venv's."""
    project = tomllib.loads(pyproject.read_text())["project"]
    info = src / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    groups = dict(project.get("entry-points", {}))
    if project.get("scripts"):
        groups["console_scripts"] = project["scripts"]
    lines = []
    for group, points in groups.items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {target}" for name, target in points.items())
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines))
