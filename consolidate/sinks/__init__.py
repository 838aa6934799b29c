"""Where mapped rows are written: in-engine for SQLite targets, COPY for PostgreSQL."""
