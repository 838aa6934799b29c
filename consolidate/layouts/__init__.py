"""Stage 2, layouts: where a source's layout is recognised, its columns mapped to central homes,
and what it is reported (``inspect``). May import: errors, schema, sources.
"""
