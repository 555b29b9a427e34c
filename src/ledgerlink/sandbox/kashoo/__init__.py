"""Kashoo REST API sandbox (documented below, to be completed)."""

from ledgerlink.sandbox.kashoo.app import create_app
from ledgerlink.sandbox.kashoo.config import KashooSandboxConfig, credentials

__all__ = ["KashooSandboxConfig", "create_app", "credentials"]
