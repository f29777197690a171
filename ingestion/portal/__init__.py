"""The web portal for intervention owners (docs/portal.md)."""
