"""Step 1 of the recipe, "become one with the data": sources, the one-pass profile, and the audit's context.

This package reads data and profiles it; it never runs checks. `nnrecipe.runner.audit_data` runs the data
checks on an `AuditData` (the `nnrecipe audit PATH` command).
"""
