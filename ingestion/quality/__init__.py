"""Stage 2, quality: the GX suites, grouped findings, quarantine, replay and the checks on the built facts."""
