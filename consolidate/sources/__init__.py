"""Stage 1, sources: where run files are found (``discover``) and opened read-only (``opening``).

May import: errors. Nothing here knows what a layout is.
"""
