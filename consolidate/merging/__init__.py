"""Stage 4, merging: where a merge decides (plan, ledger: merge, skip, replace, conflict), records
provenance, reports, and drives the sinks. May import: errors, schema, sources, layouts, sinks.
"""
