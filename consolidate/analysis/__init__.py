"""Stage 7, analysis: cross-run questions answered as DataFrames, CSV exports, read-only SQL.
May import: errors, schema. The only stage that imports pandas (inside functions).
"""
