"""Connections to the systems: stored (secrets sealed in the vault), built into clients through each system's
plugin, and tested."""
