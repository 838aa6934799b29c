"""Experiments and simulations: what the central database knows about each run and its source."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, Table, Text

from consolidate.schema.base import metadata

#: One experiment: a set of simulations consolidated or written together.
EXPERIMENTS = Table(
    "experiments",
    metadata,
    Column("experiment_id", Text(), primary_key=True),
    Column("name", Text()),
    Column("description", Text()),
    Column("hypothesis", Text()),
    # AgentFarm's names and order: its readers unpack ``SELECT * FROM experiments`` by position.
    Column("creation_date", DateTime(timezone=True), nullable=False),
    Column("last_updated", DateTime(timezone=True)),
    Column("status", Text()),
    Column("tags", Text()),
    Column("variables", Text()),
    Column("results_summary", Text()),
    Column("notes", Text()),
)

#: One simulation run, whether merged from a legacy file or written by the writer.
#:
#: Columns from ``status`` to ``config_variation`` carry the legacy ``simulations`` row as it was
#: (datetimes stay text: legacy files mix UTC and local time and the zone is not recoverable).
#: ``source_*`` columns are the provenance of a merged run; ``source_row_counts`` is JSON text
#: ``{central_table: rows}`` counted in the source at merge time, which verify checks.
SIMULATIONS = Table(
    "simulations",
    metadata,
    Column("simulation_id", Text(), primary_key=True),
    Column("experiment_id", Text(), ForeignKey("experiments.experiment_id"), nullable=False),
    Column("origin", Text(), nullable=False),  # 'merge' or 'writer'
    Column("status", Text()),
    Column("start_time", Text()),
    Column("end_time", Text()),
    Column("parameters", Text()),
    Column("results_summary", Text()),
    Column("simulation_db_path", Text()),
    Column("iteration_number", BigInteger()),
    Column("config_variation", Text()),
    Column("legacy_simulation_id", Text()),
    Column("legacy_experiment_id", Text()),
    Column("source_path", Text()),
    Column("source_sha256", Text()),
    Column("source_family", Text()),
    Column("source_schema_version", Text()),
    Column("source_row_counts", Text()),
    Column("merged_at", DateTime(timezone=True)),
    Index("ix_simulations_source_path", "source_path"),  # the ledger asks by path (0003)
    Index("ix_simulations_source_sha256", "source_sha256"),
)
