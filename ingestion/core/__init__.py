"""Leaf modules every stage reads: settings, the export contract, the registry, findings, the county mappings and the raw zone."""
