"""initial central schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 04:39:38.672792
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('experiments',
    sa.Column('experiment_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('hypothesis', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('tags', sa.Text(), nullable=True),
    sa.Column('variables', sa.Text(), nullable=True),
    sa.Column('results_summary', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_updated', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('experiment_id', name=op.f('pk_experiments'))
    )
    op.create_table('simulations',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('experiment_id', sa.Text(), nullable=False),
    sa.Column('origin', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('start_time', sa.Text(), nullable=True),
    sa.Column('end_time', sa.Text(), nullable=True),
    sa.Column('parameters', sa.Text(), nullable=True),
    sa.Column('results_summary', sa.Text(), nullable=True),
    sa.Column('simulation_db_path', sa.Text(), nullable=True),
    sa.Column('iteration_number', sa.BigInteger(), nullable=True),
    sa.Column('config_variation', sa.Text(), nullable=True),
    sa.Column('legacy_simulation_id', sa.Text(), nullable=True),
    sa.Column('legacy_experiment_id', sa.Text(), nullable=True),
    sa.Column('source_path', sa.Text(), nullable=True),
    sa.Column('source_sha256', sa.Text(), nullable=True),
    sa.Column('source_family', sa.Text(), nullable=True),
    sa.Column('source_schema_version', sa.Text(), nullable=True),
    sa.Column('source_row_counts', sa.Text(), nullable=True),
    sa.Column('merged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiments.experiment_id'], name=op.f('fk_simulations_experiment_id_experiments')),
    sa.PrimaryKeyConstraint('simulation_id', name=op.f('pk_simulations'))
    )
    with op.batch_alter_table('simulations', schema=None) as batch_op:
        batch_op.create_index('ix_simulations_source_sha256', ['source_sha256'], unique=False)

    op.create_table('agent_actions',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('action_id', sa.BigInteger(), nullable=False),
    sa.Column('step_number', sa.BigInteger(), nullable=True),
    sa.Column('agent_id', sa.Text(), nullable=True),
    sa.Column('action_type', sa.Text(), nullable=True),
    sa.Column('action_target_id', sa.Text(), nullable=True),
    sa.Column('position_before', sa.Text(), nullable=True),
    sa.Column('position_after', sa.Text(), nullable=True),
    sa.Column('resources_before', sa.Float(), nullable=True),
    sa.Column('resources_after', sa.Float(), nullable=True),
    sa.Column('state_before_id', sa.Text(), nullable=True),
    sa.Column('state_after_id', sa.Text(), nullable=True),
    sa.Column('reward', sa.Float(), nullable=True),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('module_type', sa.Text(), nullable=True),
    sa.Column('module_id', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_agent_actions_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'action_id', name=op.f('pk_agent_actions'))
    )
    with op.batch_alter_table('agent_actions', schema=None) as batch_op:
        batch_op.create_index('ix_agent_actions_simulation_id_agent_id', ['simulation_id', 'agent_id'], unique=False)
        batch_op.create_index('ix_agent_actions_simulation_id_step_number', ['simulation_id', 'step_number'], unique=False)

    op.create_table('agent_states',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('step_number', sa.BigInteger(), nullable=True),
    sa.Column('step_id', sa.BigInteger(), nullable=True),
    sa.Column('agent_id', sa.Text(), nullable=True),
    sa.Column('agent_type', sa.Text(), nullable=True),
    sa.Column('position_x', sa.Float(), nullable=True),
    sa.Column('position_y', sa.Float(), nullable=True),
    sa.Column('position_z', sa.Float(), nullable=True),
    sa.Column('resource_level', sa.Float(), nullable=True),
    sa.Column('current_health', sa.Float(), nullable=True),
    sa.Column('starting_health', sa.Float(), nullable=True),
    sa.Column('starvation_counter', sa.BigInteger(), nullable=True),
    sa.Column('is_defending', sa.BigInteger(), nullable=True),
    sa.Column('alive', sa.BigInteger(), nullable=True),
    sa.Column('total_reward', sa.Float(), nullable=True),
    sa.Column('age', sa.BigInteger(), nullable=True),
    sa.Column('allele_frequencies', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_agent_states_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'id', name=op.f('pk_agent_states'))
    )
    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.create_index('ix_agent_states_simulation_id_agent_id', ['simulation_id', 'agent_id'], unique=False)
        batch_op.create_index('ix_agent_states_simulation_id_step_number', ['simulation_id', 'step_number'], unique=False)

    op.create_table('agents',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('agent_id', sa.Text(), nullable=False),
    sa.Column('birth_time', sa.BigInteger(), nullable=True),
    sa.Column('death_time', sa.BigInteger(), nullable=True),
    sa.Column('agent_type', sa.Text(), nullable=True),
    sa.Column('position_x', sa.Float(), nullable=True),
    sa.Column('position_y', sa.Float(), nullable=True),
    sa.Column('initial_position', sa.Text(), nullable=True),
    sa.Column('initial_resources', sa.Float(), nullable=True),
    sa.Column('starting_health', sa.Float(), nullable=True),
    sa.Column('starvation_counter', sa.BigInteger(), nullable=True),
    sa.Column('genome_id', sa.Text(), nullable=True),
    sa.Column('parent_id', sa.Text(), nullable=True),
    sa.Column('generation', sa.BigInteger(), nullable=True),
    sa.Column('action_weights', sa.Text(), nullable=True),
    sa.Column('allele_frequencies', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_agents_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'agent_id', name=op.f('pk_agents'))
    )
    op.create_table('combat_events',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('combat_id', sa.BigInteger(), nullable=False),
    sa.Column('step_number', sa.BigInteger(), nullable=True),
    sa.Column('attacker_id', sa.Text(), nullable=True),
    sa.Column('defender_id', sa.Text(), nullable=True),
    sa.Column('damage_dealt', sa.Float(), nullable=True),
    sa.Column('defender_health_before', sa.Float(), nullable=True),
    sa.Column('defender_health_after', sa.Float(), nullable=True),
    sa.Column('defender_died', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_combat_events_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'combat_id', name=op.f('pk_combat_events'))
    )
    with op.batch_alter_table('combat_events', schema=None) as batch_op:
        batch_op.create_index('ix_combat_events_simulation_id_step_number', ['simulation_id', 'step_number'], unique=False)

    op.create_table('experiment_events',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('experiment_id', sa.Text(), nullable=True),
    sa.Column('event_type', sa.Text(), nullable=True),
    sa.Column('event_time', sa.Text(), nullable=True),
    sa.Column('details', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_experiment_events_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'id', name=op.f('pk_experiment_events'))
    )
    op.create_table('experiment_metrics',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('experiment_id', sa.Text(), nullable=True),
    sa.Column('metric_name', sa.Text(), nullable=True),
    sa.Column('metric_value', sa.Float(), nullable=True),
    sa.Column('metric_type', sa.Text(), nullable=True),
    sa.Column('timestamp', sa.Text(), nullable=True),
    sa.Column('metric_metadata', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_experiment_metrics_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'id', name=op.f('pk_experiment_metrics'))
    )
    op.create_table('health_incidents',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('incident_id', sa.BigInteger(), nullable=False),
    sa.Column('step_number', sa.BigInteger(), nullable=True),
    sa.Column('agent_id', sa.Text(), nullable=True),
    sa.Column('health_before', sa.Float(), nullable=True),
    sa.Column('health_after', sa.Float(), nullable=True),
    sa.Column('cause', sa.Text(), nullable=True),
    sa.Column('details', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_health_incidents_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'incident_id', name=op.f('pk_health_incidents'))
    )
    with op.batch_alter_table('health_incidents', schema=None) as batch_op:
        batch_op.create_index('ix_health_incidents_simulation_id_agent_id', ['simulation_id', 'agent_id'], unique=False)
        batch_op.create_index('ix_health_incidents_simulation_id_step_number', ['simulation_id', 'step_number'], unique=False)

    op.create_table('interactions',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('interaction_id', sa.BigInteger(), nullable=False),
    sa.Column('step_number', sa.BigInteger(), nullable=True),
    sa.Column('source_type', sa.Text(), nullable=True),
    sa.Column('source_id', sa.Text(), nullable=True),
    sa.Column('target_type', sa.Text(), nullable=True),
    sa.Column('target_id', sa.Text(), nullable=True),
    sa.Column('interaction_type', sa.Text(), nullable=True),
    sa.Column('action_type', sa.Text(), nullable=True),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('timestamp', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_interactions_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'interaction_id', name=op.f('pk_interactions'))
    )
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index('ix_interactions_simulation_id_step_number', ['simulation_id', 'step_number'], unique=False)

    op.create_table('learning_experiences',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('experience_id', sa.BigInteger(), nullable=False),
    sa.Column('step_number', sa.BigInteger(), nullable=True),
    sa.Column('agent_id', sa.Text(), nullable=True),
    sa.Column('module_type', sa.Text(), nullable=True),
    sa.Column('module_id', sa.Text(), nullable=True),
    sa.Column('action_taken', sa.BigInteger(), nullable=True),
    sa.Column('action_taken_mapped', sa.Text(), nullable=True),
    sa.Column('state_before', sa.Text(), nullable=True),
    sa.Column('state_after', sa.Text(), nullable=True),
    sa.Column('reward', sa.Float(), nullable=True),
    sa.Column('loss', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_learning_experiences_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'experience_id', name=op.f('pk_learning_experiences'))
    )
    with op.batch_alter_table('learning_experiences', schema=None) as batch_op:
        batch_op.create_index('ix_learning_experiences_simulation_id_agent_id', ['simulation_id', 'agent_id'], unique=False)
        batch_op.create_index('ix_learning_experiences_simulation_id_step_number', ['simulation_id', 'step_number'], unique=False)

    op.create_table('legacy_experiments',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('experiment_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('hypothesis', sa.Text(), nullable=True),
    sa.Column('creation_date', sa.Text(), nullable=True),
    sa.Column('last_updated', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('tags', sa.Text(), nullable=True),
    sa.Column('variables', sa.Text(), nullable=True),
    sa.Column('results_summary', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('base_config', sa.Text(), nullable=True),
    sa.Column('experiment_metadata', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_legacy_experiments_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'experiment_id', name=op.f('pk_legacy_experiments'))
    )
    op.create_table('reproduction_events',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('step_number', sa.BigInteger(), nullable=True),
    sa.Column('parent_id', sa.Text(), nullable=True),
    sa.Column('offspring_id', sa.Text(), nullable=True),
    sa.Column('success', sa.BigInteger(), nullable=True),
    sa.Column('parent_resources_before', sa.Float(), nullable=True),
    sa.Column('parent_resources_after', sa.Float(), nullable=True),
    sa.Column('offspring_initial_resources', sa.Float(), nullable=True),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('parent_generation', sa.BigInteger(), nullable=True),
    sa.Column('offspring_generation', sa.BigInteger(), nullable=True),
    sa.Column('parent_position_x', sa.Float(), nullable=True),
    sa.Column('parent_position_y', sa.Float(), nullable=True),
    sa.Column('timestamp', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_reproduction_events_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'event_id', name=op.f('pk_reproduction_events'))
    )
    with op.batch_alter_table('reproduction_events', schema=None) as batch_op:
        batch_op.create_index('ix_reproduction_events_simulation_id_step_number', ['simulation_id', 'step_number'], unique=False)

    op.create_table('resource_states',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('step_number', sa.BigInteger(), nullable=True),
    sa.Column('step_id', sa.BigInteger(), nullable=True),
    sa.Column('resource_id', sa.Text(), nullable=True),
    sa.Column('amount', sa.Float(), nullable=True),
    sa.Column('position_x', sa.Float(), nullable=True),
    sa.Column('position_y', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_resource_states_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'id', name=op.f('pk_resource_states'))
    )
    with op.batch_alter_table('resource_states', schema=None) as batch_op:
        batch_op.create_index('ix_resource_states_simulation_id_step_number', ['simulation_id', 'step_number'], unique=False)

    op.create_table('resources',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('resource_id', sa.Text(), nullable=False),
    sa.Column('initial_amount', sa.Float(), nullable=True),
    sa.Column('position_x', sa.Float(), nullable=True),
    sa.Column('position_y', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_resources_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'resource_id', name=op.f('pk_resources'))
    )
    op.create_table('sharing_events',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('share_id', sa.BigInteger(), nullable=False),
    sa.Column('step_number', sa.BigInteger(), nullable=True),
    sa.Column('giver_id', sa.Text(), nullable=True),
    sa.Column('receiver_id', sa.Text(), nullable=True),
    sa.Column('amount_shared', sa.Float(), nullable=True),
    sa.Column('giver_resources_before', sa.Float(), nullable=True),
    sa.Column('receiver_resources_before', sa.Float(), nullable=True),
    sa.Column('cooperation_score', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_sharing_events_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'share_id', name=op.f('pk_sharing_events'))
    )
    with op.batch_alter_table('sharing_events', schema=None) as batch_op:
        batch_op.create_index('ix_sharing_events_simulation_id_step_number', ['simulation_id', 'step_number'], unique=False)

    op.create_table('simulation_config',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('config_id', sa.BigInteger(), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=True),
    sa.Column('config_data', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_simulation_config_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'config_id', name=op.f('pk_simulation_config'))
    )
    op.create_table('simulation_metrics',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('metric_id', sa.BigInteger(), nullable=False),
    sa.Column('step_id', sa.BigInteger(), nullable=True),
    sa.Column('step_number', sa.BigInteger(), nullable=True),
    sa.Column('metric_name', sa.Text(), nullable=True),
    sa.Column('metric_value', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_simulation_metrics_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'metric_id', name=op.f('pk_simulation_metrics'))
    )
    with op.batch_alter_table('simulation_metrics', schema=None) as batch_op:
        batch_op.create_index('ix_simulation_metrics_simulation_id_step_number', ['simulation_id', 'step_number'], unique=False)

    op.create_table('simulation_steps',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('step_number', sa.BigInteger(), nullable=False),
    sa.Column('step_id', sa.BigInteger(), nullable=True),
    sa.Column('timestamp', sa.Text(), nullable=True),
    sa.Column('total_agents', sa.BigInteger(), nullable=True),
    sa.Column('system_agents', sa.BigInteger(), nullable=True),
    sa.Column('independent_agents', sa.BigInteger(), nullable=True),
    sa.Column('control_agents', sa.BigInteger(), nullable=True),
    sa.Column('agent_type_counts', sa.Text(), nullable=True),
    sa.Column('total_resources', sa.Float(), nullable=True),
    sa.Column('average_agent_resources', sa.Float(), nullable=True),
    sa.Column('births', sa.BigInteger(), nullable=True),
    sa.Column('deaths', sa.BigInteger(), nullable=True),
    sa.Column('current_max_generation', sa.BigInteger(), nullable=True),
    sa.Column('resource_efficiency', sa.Float(), nullable=True),
    sa.Column('resource_distribution_entropy', sa.Float(), nullable=True),
    sa.Column('average_agent_health', sa.Float(), nullable=True),
    sa.Column('average_agent_age', sa.BigInteger(), nullable=True),
    sa.Column('average_reward', sa.Float(), nullable=True),
    sa.Column('combat_encounters', sa.BigInteger(), nullable=True),
    sa.Column('successful_attacks', sa.BigInteger(), nullable=True),
    sa.Column('resources_shared', sa.Float(), nullable=True),
    sa.Column('genetic_diversity', sa.Float(), nullable=True),
    sa.Column('dominant_genome_ratio', sa.Float(), nullable=True),
    sa.Column('resources_consumed', sa.Float(), nullable=True),
    sa.Column('resources_shared_this_step', sa.Float(), nullable=True),
    sa.Column('combat_encounters_this_step', sa.BigInteger(), nullable=True),
    sa.Column('successful_attacks_this_step', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_simulation_steps_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'step_number', name=op.f('pk_simulation_steps'))
    )
    op.create_table('social_interactions',
    sa.Column('simulation_id', sa.Text(), nullable=False),
    sa.Column('interaction_id', sa.BigInteger(), nullable=False),
    sa.Column('step_number', sa.BigInteger(), nullable=True),
    sa.Column('initiator_id', sa.Text(), nullable=True),
    sa.Column('recipient_id', sa.Text(), nullable=True),
    sa.Column('interaction_type', sa.Text(), nullable=True),
    sa.Column('subtype', sa.Text(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('resources_transferred', sa.Float(), nullable=True),
    sa.Column('distance', sa.Float(), nullable=True),
    sa.Column('initiator_resources_before', sa.Float(), nullable=True),
    sa.Column('initiator_resources_after', sa.Float(), nullable=True),
    sa.Column('recipient_resources_before', sa.Float(), nullable=True),
    sa.Column('recipient_resources_after', sa.Float(), nullable=True),
    sa.Column('group_id', sa.Text(), nullable=True),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('timestamp', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['simulation_id'], ['simulations.simulation_id'], name=op.f('fk_social_interactions_simulation_id_simulations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('simulation_id', 'interaction_id', name=op.f('pk_social_interactions'))
    )
    with op.batch_alter_table('social_interactions', schema=None) as batch_op:
        batch_op.create_index('ix_social_interactions_simulation_id_step_number', ['simulation_id', 'step_number'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('social_interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_social_interactions_simulation_id_step_number')

    op.drop_table('social_interactions')
    op.drop_table('simulation_steps')
    with op.batch_alter_table('simulation_metrics', schema=None) as batch_op:
        batch_op.drop_index('ix_simulation_metrics_simulation_id_step_number')

    op.drop_table('simulation_metrics')
    op.drop_table('simulation_config')
    with op.batch_alter_table('sharing_events', schema=None) as batch_op:
        batch_op.drop_index('ix_sharing_events_simulation_id_step_number')

    op.drop_table('sharing_events')
    op.drop_table('resources')
    with op.batch_alter_table('resource_states', schema=None) as batch_op:
        batch_op.drop_index('ix_resource_states_simulation_id_step_number')

    op.drop_table('resource_states')
    with op.batch_alter_table('reproduction_events', schema=None) as batch_op:
        batch_op.drop_index('ix_reproduction_events_simulation_id_step_number')

    op.drop_table('reproduction_events')
    op.drop_table('legacy_experiments')
    with op.batch_alter_table('learning_experiences', schema=None) as batch_op:
        batch_op.drop_index('ix_learning_experiences_simulation_id_step_number')
        batch_op.drop_index('ix_learning_experiences_simulation_id_agent_id')

    op.drop_table('learning_experiences')
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_simulation_id_step_number')

    op.drop_table('interactions')
    with op.batch_alter_table('health_incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_health_incidents_simulation_id_step_number')
        batch_op.drop_index('ix_health_incidents_simulation_id_agent_id')

    op.drop_table('health_incidents')
    op.drop_table('experiment_metrics')
    op.drop_table('experiment_events')
    with op.batch_alter_table('combat_events', schema=None) as batch_op:
        batch_op.drop_index('ix_combat_events_simulation_id_step_number')

    op.drop_table('combat_events')
    op.drop_table('agents')
    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_states_simulation_id_step_number')
        batch_op.drop_index('ix_agent_states_simulation_id_agent_id')

    op.drop_table('agent_states')
    with op.batch_alter_table('agent_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_actions_simulation_id_step_number')
        batch_op.drop_index('ix_agent_actions_simulation_id_agent_id')

    op.drop_table('agent_actions')
    with op.batch_alter_table('simulations', schema=None) as batch_op:
        batch_op.drop_index('ix_simulations_source_sha256')

    op.drop_table('simulations')
    op.drop_table('experiments')
