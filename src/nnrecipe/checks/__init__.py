"""Checks, one per file, grouped by the recipe step they verify. The registry lists them in recipe order."""
