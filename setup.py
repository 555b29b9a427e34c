"""Only here to ship the Salesforce metadata inside the wheel; everything else is in pyproject.toml.

The SFDX project lives once, at the repository's top (``salesforce/``), where the Salesforce CLI deploys it from.
A built wheel has no repository around it, so ``build_py`` copies the folder into the package as
``ledgerlink/salesforce_metadata``; the sandbox and ``ledgerlink salesforce check`` look there first and fall
back to the repository checkout (source tree or editable install), so no second copy is ever committed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

METADATA_SOURCE = Path(__file__).parent / "salesforce"
METADATA_TARGET = Path("ledgerlink") / "salesforce_metadata"


class BuildWithSalesforceMetadata(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False) or not METADATA_SOURCE.is_dir():
            return  # an editable install reads the checkout itself
        target = Path(self.build_lib) / METADATA_TARGET
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(METADATA_SOURCE, target, ignore=shutil.ignore_patterns("README.md", ".*"))


setup(cmdclass={"build_py": BuildWithSalesforceMetadata})
