"""Offline intelligence: mapping suggestions and golden-record matching.

A base-level library: it uses ``ledgerlink.model`` and ``ledgerlink.mapping`` only, never flows, engine, web or cli,
and it never reaches the network (no service, no model download).
"""
