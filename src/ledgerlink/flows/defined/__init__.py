"""User-defined flows: definitions as data (``model``), stored with their versions (``store``), run by
``run`` through ``ports``; ``flows/defined_flows.py`` puts the published ones in the engine. The seed's examples
ship as templates (``templates/``)."""

from ledgerlink.flows.defined.model import Definition, DefinitionError, from_data, parse

__all__ = ["Definition", "DefinitionError", "from_data", "parse"]
