"""Beam I/O: sources and sinks, one package per system. Connectors know bytes and records,
not deduplication or language."""
