"""KashFlow REST v2 sandbox (to be documented)."""

from ledgerlink.sandbox.kashflow.app import create_app
from ledgerlink.sandbox.kashflow.config import KashFlowSandboxConfig, credentials

__all__ = ["KashFlowSandboxConfig", "create_app", "credentials"]
