"""Experiments and simulations: what the central database knows about each run and its source."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from consolidate.schema.base import Base


class Experiment(Base):
    """One experiment: a set of simulations consolidated or written together."""

    __tablename__ = "experiments"

    experiment_id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str | None]
    description: Mapped[str | None]
    hypothesis: Mapped[str | None]
    # AgentFarm's names and order: its readers unpack ``SELECT * FROM experiments`` by position.
    creation_date: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_updated: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str | None]
    tags: Mapped[str | None]
    variables: Mapped[str | None]
    results_summary: Mapped[str | None]
    notes: Mapped[str | None]


class Simulation(Base):
    """One simulation run, whether merged from a legacy file or written by the writer.

    Columns from ``status`` to ``config_variation`` carry the legacy ``simulations`` row as it was
    (datetimes stay text: legacy files mix UTC and local time and the zone is not recoverable).
    ``source_*`` columns are the provenance of a merged run; ``source_row_counts`` is JSON text
    ``{central_table: rows}`` counted in the source at merge time, which verify checks.
    """

    __tablename__ = "simulations"
    __table_args__ = (Index("ix_simulations_source_sha256", "source_sha256"),)

    simulation_id: Mapped[str] = mapped_column(primary_key=True)
    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.experiment_id"))
    origin: Mapped[str]  # 'merge' or 'writer'
    status: Mapped[str | None]
    start_time: Mapped[str | None]
    end_time: Mapped[str | None]
    parameters: Mapped[str | None]
    results_summary: Mapped[str | None]
    simulation_db_path: Mapped[str | None]
    iteration_number: Mapped[int | None]
    config_variation: Mapped[str | None]
    legacy_simulation_id: Mapped[str | None]
    legacy_experiment_id: Mapped[str | None]
    source_path: Mapped[str | None]
    source_sha256: Mapped[str | None]
    source_family: Mapped[str | None]
    source_schema_version: Mapped[str | None]
    source_row_counts: Mapped[str | None]
    merged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
