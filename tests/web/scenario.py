"""A real broken-mapping failure to work on: sandboxes, the engine, a user mapping that reads the wrong field,
and one Closed Won opportunity run through the flow so that it lands in the failed records."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgerlink.engine.runtime import wait_for
from ledgerlink.mapping.loader import template_file
from ledgerlink.sandbox.runner import SandboxSet, start_sandboxes
from ledgerlink.store import Ledger, database_url

MAPPING = "salesforce/opportunity_to_canonical"
GOOD_LINE = "    from: CloseDate\n    transforms: [{date: {from: iso, to: date}}]\n    required: true\n"
# Paid_Date__c is a real Opportunity field (the mapping loads, and the flow reads what its mapping reads) but it is
# empty until the invoice is paid: the value is missing.
BROKEN_LINE = GOOD_LINE.replace("from: CloseDate", "from: Paid_Date__c")


def broken_mapping_text() -> str:
    shipped = template_file(MAPPING)
    assert shipped is not None
    text = shipped.read_text(encoding="utf-8")
    assert GOOD_LINE in text, "the opportunity template changed: update the scenario's broken rule"
    return text.replace(GOOD_LINE, BROKEN_LINE, 1)


@dataclass
class Scenario:
    data_dir: Path
    mappings_dir: Path
    ledger: Ledger
    sandboxes: SandboxSet
    opportunity_id: str
    failed_id: int

    @property
    def salesforce_spec(self) -> dict[str, Any]:
        return self.sandboxes["salesforce"].describe()

    @property
    def kashflow_spec(self) -> dict[str, Any]:
        return self.sandboxes["kashflow"].describe()


def _create_won_opportunity(sf: Any) -> str:
    account = sf.create(
        "Account",
        {
            "Name": "Harbourview Trading Ltd",
            "ExternalID__c": "CUST-HV-001",
            "BillingCountry": "United Kingdom",
            "BillingCity": "Leeds",
        },
    )
    product = sf.create("Product2", {"Name": "Consulting day", "ProductCode": "CONS-DAY", "IsActive": True})
    standard = next(iter(sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")))["Id"]
    entry = sf.create(
        "PricebookEntry", {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 850.0, "IsActive": True}
    )
    opp = sf.create(
        "Opportunity",
        {
            "Name": "Harbourview rollout",
            "AccountId": account,
            "StageName": "Prospecting",
            "CloseDate": "2025-03-14",
            "Pricebook2Id": standard,
        },
    )
    sf.create(
        "OpportunityLineItem", {"OpportunityId": opp, "PricebookEntryId": entry, "Quantity": 3, "UnitPrice": 850.0}
    )
    sf.update("Opportunity", opp, {"StageName": "Closed Won"})
    return str(opp)


@contextmanager
def broken_mapping_failure(data_dir: Path) -> Iterator[Scenario]:
    """Yield a scenario with the engine running; stops the engine and sandboxes afterwards."""
    from ledgerlink.bootstrap import open_runtime
    from ledgerlink.connections.build import build_crm
    from ledgerlink.engine import runtime as engine
    from ledgerlink.flows import opportunity_to_invoice as o2i

    mappings_dir = data_dir / "mappings"
    (mappings_dir / "salesforce").mkdir(parents=True)
    (mappings_dir / f"{MAPPING}.yaml").write_text(broken_mapping_text(), encoding="utf-8")
    previous = os.environ.get("LEDGERLINK_MAPPINGS_DIR")
    os.environ["LEDGERLINK_MAPPINGS_DIR"] = str(mappings_dir)
    sandboxes = start_sandboxes(["salesforce", "kashflow"], data_dir / "sandboxes")
    try:
        seeder = build_crm(sandboxes["salesforce"].describe(), client_tag="test-seed")
        opportunity_id = _create_won_opportunity(seeder)
        seeder.close()
        ledger = Ledger(database_url(data_dir))
        settings = engine.EngineSettings(
            data_dir=data_dir,
            ledger_url=ledger.url,
            system_database_url=engine.system_database_url(ledger.url, data_dir),
        )
        open_runtime(settings, sandboxes["salesforce"].describe(), sandboxes["kashflow"].describe(), ledger=ledger)
        try:
            outcome = wait_for(o2i.enqueue(opportunity_id, "first"))
            assert outcome["status"] == "failed", outcome
            failed = [r for r in ledger.failed_records() if r.source_id == opportunity_id]
            assert failed, "the broken mapping did not produce a failed record"
            yield Scenario(
                data_dir,
                mappings_dir,
                Ledger(ledger.url, run_migrations=False),
                sandboxes,
                opportunity_id,
                failed[0].id,
            )
        finally:
            engine.stop()
    finally:
        sandboxes.stop()
        if previous is None:
            os.environ.pop("LEDGERLINK_MAPPINGS_DIR", None)
        else:
            os.environ["LEDGERLINK_MAPPINGS_DIR"] = previous
