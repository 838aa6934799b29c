"""experiments in AgentFarm's columns and order; fractional average ages

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:30:00

``experiments.created_at`` becomes ``creation_date`` (the seed's and AgentFarm's name), and the
table is rebuilt in AgentFarm's column order, because AgentFarm's own readers unpack
``SELECT * FROM experiments`` by position. ``simulation_steps.average_agent_age`` becomes a float:
AgentFarm computes it with a true division and real runs store fractions there, which a bigint
column refuses on PostgreSQL.

Rebuilding a table that others reference needs foreign keys off on SQLite (a DROP of the parent
would otherwise fail at commit); ``consolidate.schema.migrations`` runs every revision that way
and checks the keys before committing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = 'fk_simulations_experiment_id_experiments'
_TEXT = ('name', 'description', 'hypothesis')
_AFTER = ('status', 'tags', 'variables', 'results_summary', 'notes')


def _experiments_columns(created: str, *, agentfarm_order: bool) -> list[sa.Column]:
    """The experiments columns, frozen here (revisions never import the models)."""
    key = [sa.Column('experiment_id', sa.Text(), nullable=False)]
    text = [sa.Column(c, sa.Text(), nullable=True) for c in _TEXT]
    after = [sa.Column(c, sa.Text(), nullable=True) for c in _AFTER]
    times = [
        sa.Column(created, sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_updated', sa.DateTime(timezone=True), nullable=True),
    ]
    return key + text + (times + after if agentfarm_order else after + times)


def _rebuild_experiments(old_created: str, new_created: str, *, agentfarm_order: bool) -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == 'postgresql'
    # PostgreSQL names a primary key's index schema-wide: build under a temporary name.
    pk_name = 'pk_experiments_rebuilt' if postgres else 'pk_experiments'
    op.create_table(
        'experiments_rebuilt',
        *_experiments_columns(new_created, agentfarm_order=agentfarm_order),
        sa.PrimaryKeyConstraint('experiment_id', name=pk_name),
    )
    shared = ', '.join(('experiment_id', *_TEXT, 'last_updated', *_AFTER))
    op.execute(
        f'INSERT INTO experiments_rebuilt ({shared}, {new_created}) '
        f'SELECT {shared}, {old_created} FROM experiments'
    )
    if postgres:
        op.drop_constraint(_FK, 'simulations', type_='foreignkey')
    op.drop_table('experiments')
    op.rename_table('experiments_rebuilt', 'experiments')
    if postgres:
        op.execute('ALTER TABLE experiments RENAME CONSTRAINT pk_experiments_rebuilt TO pk_experiments')
        op.create_foreign_key(_FK, 'simulations', 'experiments', ['experiment_id'], ['experiment_id'])


def _retype_average_age(old: sa.types.TypeEngine, new: sa.types.TypeEngine, cast: str) -> None:
    with op.batch_alter_table('simulation_steps', schema=None) as batch_op:
        batch_op.alter_column(
            'average_agent_age',
            existing_type=old,
            type_=new,
            existing_nullable=True,
            postgresql_using=f'average_agent_age::{cast}',
        )


def upgrade() -> None:
    _rebuild_experiments('created_at', 'creation_date', agentfarm_order=True)
    _retype_average_age(sa.BigInteger(), sa.Float(), 'double precision')


def downgrade() -> None:
    # Fractional ages cannot go back into a bigint column: refuse rather than round them.
    fractional = op.get_bind().execute(
        sa.text(
            'SELECT count(*) FROM simulation_steps '
            'WHERE average_agent_age <> CAST(CAST(average_agent_age AS BIGINT) AS DOUBLE PRECISION)'
        )
    ).scalar_one()
    if fractional:
        raise RuntimeError(
            f'{fractional} simulation_steps rows hold a fractional average_agent_age, which '
            'revision 0001 cannot store; downgrade refused'
        )
    _retype_average_age(sa.Float(), sa.BigInteger(), 'bigint')
    _rebuild_experiments('creation_date', 'created_at', agentfarm_order=False)
