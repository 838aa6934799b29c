"""Stage 5, proof: where an experiment database is checked: counts, rows and checksums compared
per simulation and table, integrity. May import: errors, schema, sources, layouts, sinks.
"""
