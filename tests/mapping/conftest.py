"""Shared records for mapping tests, shaped like the APIs return them."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def opportunity() -> dict[str, Any]:
    return {
        "attributes": {"type": "Opportunity", "url": "/services/data/v59.0/sobjects/Opportunity/006A"},
        "Id": "006000000000001AAA",
        "Name": "Acme renewal",
        "StageName": "Closed Won",
        "CloseDate": "2024-03-01",
        "Amount": 1250.5,
        "AccountId": "001000000000001AAA",
        "Account": {"Name": "Acme Ltd", "ExternalID__c": "ACME01", "BillingCountry": "United Kingdom"},
        "OpportunityLineItems": {
            "totalSize": 2,
            "done": True,
            "records": [
                {
                    "Quantity": 2.0,
                    "UnitPrice": 500.25,
                    "Description": "Annual licence",
                    "Product2": {"ProductCode": "LIC-1", "Name": "Licence", "Family": "Software"},
                },
                {
                    "Quantity": 1.0,
                    "UnitPrice": 250.0,
                    "Description": None,
                    "Product2": {"ProductCode": "SUP-1", "Name": "Support", "Family": "Services"},
                },
            ],
        },
    }


@pytest.fixture
def account() -> dict[str, Any]:
    return {
        "attributes": {"type": "Account"},
        "Id": "001000000000001AAA",
        "Name": "Acme Ltd",
        "ExternalID__c": "ACME01",
        "Phone": "+44 20 7946 0000",
        "Website": "https://acme.example",
        "BillingStreet": "Unit 4\n12 High Street",
        "BillingCity": "London",
        "BillingState": None,
        "BillingPostalCode": "SW1A 1AA",
        "BillingCountry": "UK",
        "ShippingStreet": None,
        "LastModifiedDate": "2024-02-01T10:20:30.000+0000",
        "Contacts": {
            "totalSize": 1,
            "done": True,
            "records": [{"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@acme.example", "Phone": None}],
        },
    }
