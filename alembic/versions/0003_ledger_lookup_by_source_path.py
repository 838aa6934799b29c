"""an index on simulations.source_path, the ledger's lookup of a source by its path

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:00:00

Every source a merge takes asks the ledger whether its path was merged before under another id
(``--on-conflict rename``). Without an index that question read the whole ``simulations``
table: 0.13 ms per source once a thousand were merged, growing with every one, so a merge of N
run files spent time in N squared.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_simulations_source_path', 'simulations', ['source_path'])


def downgrade() -> None:
    op.drop_index('ix_simulations_source_path', table_name='simulations')
