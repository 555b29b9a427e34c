"""LedgerLink's settings: one TOML file (``ledgerlink.toml``) with ``LEDGERLINK_…`` environment overrides, one
pydantic-settings model, the same tree in ``config show`` and the console."""

from ledgerlink.settings.files import (
    DEFAULT_FILE,
    SettingsError,
    key_lines,
    load_settings,
    load_text,
    settings_path,
    write_settings,
)
from ledgerlink.settings.model import FLOW_MODELS, FlowSection, LedgerLinkSettings, SharedSettings, TaxRule
from ledgerlink.settings.schedule import Schedule, cron_slot, longest_gap_seconds, parse_schedule
from ledgerlink.settings.show import as_dict, as_toml, mask_url

__all__ = [
    "DEFAULT_FILE",
    "FLOW_MODELS",
    "FlowSection",
    "LedgerLinkSettings",
    "Schedule",
    "SettingsError",
    "SharedSettings",
    "TaxRule",
    "as_dict",
    "as_toml",
    "cron_slot",
    "key_lines",
    "load_settings",
    "load_text",
    "longest_gap_seconds",
    "mask_url",
    "parse_schedule",
    "settings_path",
    "write_settings",
]
