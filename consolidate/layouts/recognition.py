"""Recognise which legacy AgentFarm per-run layout a source SQLite database has.

Layouts are the 40 mainline schema versions ``v01``..``v40`` and the side-branch variants
``side-<commit8>``, grouped into eight families. ``_CHANGELOG`` restates the version history as
structural edits; replaying it gives every layout's set of *features*. ``recognise`` extracts the
same features from a file and names a layout only on an exact match. The features are chosen to
survive SQLAlchemy 1.4 vs 2.x rendering differences: table names (case-sensitive, as stored),
column names (order ignored), each table's primary-key column set, and whether id columns
(``id``, ``*_id``) have INTEGER affinity. Declared types, NOT NULL and indexes are otherwise
ignored, except where nothing else separates two versions:

* index names: v08/v09, v12/v13, v23/v24 (``idx_agents_agent_type``,
  ``idx_agent_states_agent_step``) and v35/v36 (``idx_interactions_source[_id]``);
* ``health_incidents.health_before`` NOT NULL: v12-v13 vs v14;
* ``agent_actions.position_before`` declared with a length (``VARCHAR(32)``): v14-v15 vs v16
  (v16's other change, an FK on ``action_target_id``, is not part of the shape).

Not distinguishable: side variant ``df3857f6`` (pull/75) has DDL identical to v18, so such files
are reported as v18 and the variant has no entry of its own.

Tables whose lower-cased name is not in ``KNOWN_TABLES`` (``multi_sim_steps``, research tables,
anything else) are ignored, so they never change the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from consolidate.layouts.shapes import SourceShape


@dataclass(frozen=True)
class Layout:
    """A recognised layout.

    Attributes:
        family: Family name such as ``'f7-slim-actions'``, or ``'unknown'``.
        schema_version: ``'v01'``..``'v40'``, ``'side-<commit8>'`` or ``'unknown'``.
        nearest_family: Only for unknown layouts: the family of the structurally closest known
            layout, or None when the file has no table of any known layout.
    """

    family: str
    schema_version: str
    nearest_family: str | None = None


# The version history (§2 of the research notes) as edits. `<version> <family> [<base>] | ops`
# starts a layout: a mainline version continues from the previous one, a side variant from the
# named <base> without affecting later versions. A line starting with `|` carries more ops.
# Ops, separated by `;`: `-Table` drops, `Old>new` renames, `T1,T2: tokens` creates/edits tables.
# Tokens: `-name` removes; otherwise adds or redeclares a column (replacing its marks):
# `*` primary key, `#` INTEGER id column, `!` NOT NULL, `(n)` declared with a length.
# `@name` is an index. Only indexes, `!` and `(n)` that appear somewhere here are checked.
_CHANGELOG = """
v01 f1-raw-stepid | Agents: agent_id*# birth_time death_time agent_type initial_resources
  | Agents: initial_position_x initial_position_y
  | Resources: resource_id*# initial_amount position_x position_y
  | SimulationSteps: step_id*# step_number timestamp
  | AgentStates: state_id*# agent_id# step_id# position_x position_y resource_level alive
  | ResourceStates: state_id*# resource_id# step_id# amount
  | SimulationMetrics: metric_id*# step_id# metric_name metric_value
v02 f1-raw-stepid | AgentStates: agent_type; ResourceStates: position_x position_y
v03 f2-raw-pascal | -Resources; -SimulationMetrics
  | Agents: -initial_position_x -initial_position_y initial_position
  | SimulationSteps: -step_id -timestamp step_number* total_agents system_agents control_agents
  | SimulationSteps: independent_agents total_resources average_agent_resources
  | AgentStates: -state_id -step_id -alive -agent_type step_number
  | ResourceStates: -state_id -step_id step_number
side-f816007b f2-raw-pascal v03
  | AgentActions: action_id*# step_number agent_id# action_type action_target_id# reward
  | AgentActions: position_before position_after resources_before resources_after
  | CombatEvents: combat_id*# step_number attacker_id# defender_id# damage_dealt defender_died
  | CombatEvents: defender_health_before defender_health_after
  | SharingEvents: share_id*# step_number giver_id# receiver_id# amount_shared cooperation_score
  | SharingEvents: giver_resources_before receiver_resources_before
  | LearningExperiences: experience_id*# step_number agent_id# module_type state_before
  | LearningExperiences: action_taken reward state_after loss
v04 f2-raw-pascal | Agents: max_health starvation_threshold genome_id parent_id# generation
  | AgentStates: current_health max_health starvation_threshold is_defending total_reward age
v05 f2-raw-pascal | SimulationSteps: births deaths current_max_generation resource_efficiency
  | SimulationSteps: resource_distribution_entropy average_agent_health average_agent_age
  | SimulationSteps: average_reward combat_encounters successful_attacks resources_shared
  | SimulationSteps: genetic_diversity dominant_genome_ratio
v06 f2-raw-pascal | AgentActions: action_id*# step_number agent_id# action_type action_target_id#
  | AgentActions: position_before position_after resources_before resources_after reward details
v07 f2-raw-pascal | LearningExperiences: experience_id*# step_number agent_id# module_type
  | LearningExperiences: state_before action_taken reward state_after loss
v08 f2-raw-pascal | Agents: -initial_position position_x position_y
v09 f2-raw-pascal | Agents: @idx_agents_agent_type
v10 f2-raw-pascal | HealthIncidents: incident_id*# step_number agent_id# cause details
  | HealthIncidents: health_before health_after
v11 f2-raw-pascal | SimulationConfig: config_id*# timestamp config_data
side-8d46eb15 f2-raw-pascal v11 | Agents: -@idx_agents_agent_type
  | AgentStates: step_number* agent_id*#; ResourceStates: step_number* resource_id*#
v12 f3-orm-intids | Agents>agents; AgentStates>agent_states; ResourceStates>resource_states
  | SimulationSteps>simulation_steps; AgentActions>agent_actions; SimulationConfig>simulation_config
  | HealthIncidents>health_incidents; LearningExperiences>learning_experiences
  | agents: -@idx_agents_agent_type; agent_states,resource_states: id*#
  | health_incidents: health_before!
v13 f3-orm-intids | agents: @idx_agents_agent_type
v14 f3-orm-intids | health_incidents: health_before; agent_actions: position_before(n)
v15 f3-orm-intids | simulations: simulation_id*# start_time end_time status parameters
  | simulations: results_summary simulation_db_path
v16 f3-orm-intids | agent_actions: position_before
v17 f3-orm-intids | simulation_steps: resources_consumed
v18 f3-orm-intids | learning_experiences: -state_before -state_after -loss module_id
  | learning_experiences: action_taken_mapped
v19 f3-orm-intids | agent_actions: -position_before -position_after state_before_id# state_after_id#
v20 f3-orm-intids | agent_states: position_z
v21 f4-orm-strids | agents: agent_id*; agent_states: id* agent_id -max_health -starvation_threshold
  | agent_actions: agent_id action_target_id state_before_id state_after_id
  | learning_experiences,health_incidents: agent_id
side-82e8db68 f4-orm-strids v21 | agents,agent_states: allele_frequencies
v22 f4-orm-strids | agents: -parent_id -max_health starting_health
v23 f4-orm-strids | reproduction_events: event_id*# step_number parent_id offspring_id success
  | reproduction_events: parent_resources_before parent_resources_after parent_generation
  | reproduction_events: offspring_initial_resources offspring_generation failure_reason
  | reproduction_events: parent_position_x parent_position_y timestamp
v24 f4-orm-strids | agent_states: @idx_agent_states_agent_step
v25 f4-orm-strids | simulation_steps: resources_shared_this_step combat_encounters_this_step
  | simulation_steps: successful_attacks_this_step
v26 f4-orm-strids | agents: action_weights
  | social_interactions: interaction_id*# step_number initiator_id recipient_id interaction_type
  | social_interactions: subtype outcome resources_transferred distance group_id details timestamp
  | social_interactions: initiator_resources_before initiator_resources_after
  | social_interactions: recipient_resources_before recipient_resources_after
side-302c4210 f4-orm-strids v26 | simulations: experiment_id# iteration_number config_variation
  | experiments: experiment_id*# name description created_at updated_at status base_config
  | experiments: experiment_metadata
  | experiment_events: id*# experiment_id# event_type event_time details
  | experiment_metrics: id*# experiment_id# metric_name metric_value metric_type timestamp
  | experiment_metrics: metric_metadata
v27 f5-simid | simulations: simulation_id* experiment_id
  | experiments: experiment_id* name description hypothesis creation_date last_updated status
  | experiments: tags variables results_summary notes
  | agents,agent_states,agent_actions,resource_states,simulation_steps: simulation_id
  | learning_experiences,health_incidents,simulation_config: simulation_id
  | reproduction_events,social_interactions: simulation_id
v28 f5-simid | simulation_steps: simulation_id*
v29 f6-simid-interactions | interactions: interaction_id*# simulation_id step_number source_type
  | interactions: source_id target_type target_id interaction_type action_type details timestamp
  | interactions: @idx_interactions_source
v30 f6-simid-interactions | agents: -starvation_threshold starvation_counter
v31 f6-simid-interactions | agent_states: starting_health starvation_counter
v32 f7-slim-actions | agent_actions: -resources_before -resources_after -state_before_id
  | agent_actions: -state_after_id
v33 f7-slim-actions | resource_states: resource_id
v34 f7-slim-actions | agents: -starvation_counter
v35 f7-slim-actions | interactions: -source_type -target_type -action_type -details
  | interactions: -@idx_interactions_source @idx_interactions_source_id
v36 f7-slim-actions | interactions: -@idx_interactions_source_id @idx_interactions_source
v37 f8-consolidated | -learning_experiences; -interactions; agent_actions: module_type module_id
v38 f8-consolidated | -reproduction_events
v39 f8-consolidated | simulation_steps: -system_agents -independent_agents -control_agents
  | simulation_steps: agent_type_counts
v40 f8-consolidated | -social_interactions
  | simulation_steps: -combat_encounters -successful_attacks -resources_shared
  | simulation_steps: -resources_shared_this_step -combat_encounters_this_step
  | simulation_steps: -successful_attacks_this_step
"""

_MARKS = ("*", "#", "!", "(n)")
_COL_MARKS = ("", "#", "!", "(n)")  # "*" is compared per table, as the primary-key column set
_Schema = dict[str, dict[str, str]]  # table -> column (or "@index") -> its marks


def _replay(changelog: str) -> tuple[list[tuple[Layout, _Schema]], set[tuple[str, str]]]:
    """Replay ``changelog``: every layout with its full schema, in changelog order, and the
    (table, name) of every index and every column declared ``!`` or ``(n)`` somewhere.

    A layout shares its base's column dicts until it edits a table (copy on write): every
    ``consolidate inspect`` pays for this replay at import, and a deep copy per layout was most
    of it.
    """
    done: dict[str, _Schema] = {}
    layouts: list[tuple[Layout, _Schema]] = []
    marked: set[tuple[str, str]] = set()
    mainline: _Schema = {}
    schema: _Schema = {}
    own: set[str] = set()  # tables whose column dict belongs to `schema` (already copied)
    for line in changelog.strip().splitlines():
        head, _, ops = line.partition("|")
        if head.strip():
            version, family, *base = head.split()
            schema = dict(done[base[0]] if base else mainline)
            own = set()
            mainline = mainline if base else schema
            done[version] = schema
            layouts.append((Layout(family, version), schema))
        for op in filter(None, (o.strip() for o in ops.split(";"))):
            if op.startswith("-"):
                del schema[op[1:]]
                own.discard(op[1:])
            elif ">" in op:
                old, new = op.split(">")
                schema[new] = schema.pop(old)
                if old in own:
                    own.add(new)
                else:  # still the base's dict: copied before it is edited
                    own.discard(new)
                own.discard(old)
                marked |= {(new, c) for t, c in marked if t == old}
            else:
                targets, tokens = op.split(":")
                for table in targets.split(","):
                    if table not in own:
                        schema[table] = dict(schema.get(table, {}))
                        own.add(table)
                    cols = schema[table]
                    for token in tokens.split():
                        if token.startswith("-"):
                            del cols[token[1:]]
                        else:
                            name = token.rstrip("*#!").removesuffix("(n)").rstrip("*#!")
                            marks = "".join(m for m in _MARKS if m in token[len(name) :])
                            cols[name] = marks
                            if name.startswith("@") or "!" in marks or "(n)" in marks:
                                marked.add((table, name))
    return layouts, marked


_REPLAYED, _MARKED = _replay(_CHANGELOG)

KNOWN_TABLES: frozenset[str] = frozenset(t.lower() for _, s in _REPLAYED for t in s)
"""Lower-cased names of every table of every known layout; other tables are ignored."""

# Indexes, NOT NULL and lengths count only where the changelog marks them (see module docstring).
_CHECKED_INDEXES = frozenset(
    c[1:] for _, s in _REPLAYED for t, c in _MARKED if c.startswith("@") and c in s.get(t, {})
)
_CHECKED_NOT_NULL = frozenset(
    (t, c) for _, s in _REPLAYED for t, c in _MARKED if "!" in s.get(t, {}).get(c, "")
)
_CHECKED_LENGTH = frozenset(
    (t, c) for _, s in _REPLAYED for t, c in _MARKED if "(n)" in s.get(t, {}).get(c, "")
)


def _features(schema: _Schema) -> frozenset[str]:
    """Flatten a schema into comparable strings such as ``agents.agent_id#``."""
    features: set[str] = set()
    for table, cols in schema.items():
        features.add(table + "*" + ",".join(sorted(c for c, m in cols.items() if "*" in m)))
        # "" is in every mark string: each column gives its bare name plus one string per mark.
        features.update(f"{table}.{c}{m}" for c, ms in cols.items() for m in _COL_MARKS if m in ms)
    return frozenset(features)


def _file_schema(shape: SourceShape) -> _Schema:
    """Describe ``shape`` the way ``_CHANGELOG`` describes a layout, known tables only."""
    schema: _Schema = {}
    for table in shape.tables:
        if table.name.lower() not in KNOWN_TABLES:
            continue
        cols = schema[table.name] = {f"@{i}": "" for i in table.indexes if i in _CHECKED_INDEXES}
        for col in table.columns:
            key, declared = (table.name, col.name), col.declared_type
            is_id = col.name == "id" or col.name.endswith("_id")
            cols[col.name] = (
                ("*" if col.pk_position else "")
                # SQLite's affinity rule: a declared type containing "INT" is an integer column.
                + ("#" if is_id and "INT" in declared.upper() else "")
                + ("!" if col.not_null and key in _CHECKED_NOT_NULL else "")
                + ("(n)" if "(" in declared and key in _CHECKED_LENGTH else "")
            )
    return schema


#: Each layout's features, flattened when first compared (a few per source, not all 44 at
#: start-up: flattening them all was most of this module's import time).
_LAYOUT_FEATURES: list[frozenset[str] | None] = [None] * len(_REPLAYED)


def _group_by_tables() -> dict[frozenset[str], list[int]]:
    """Table names -> the layouts (indexes into ``_REPLAYED``, in changelog order) with exactly
    those tables: equal features mean equal tables, so an exact match is among them."""
    groups: dict[frozenset[str], list[int]] = {}
    for i, (_, schema) in enumerate(_REPLAYED):
        groups.setdefault(frozenset(schema), []).append(i)
    return groups


_BY_TABLES = _group_by_tables()


def _layout_features(i: int) -> frozenset[str]:
    known = _LAYOUT_FEATURES[i]
    if known is None:  # threads may race here: both store the same answer
        known = _LAYOUT_FEATURES[i] = _features(_REPLAYED[i][1])
    return known


def recognise(shape: SourceShape) -> Layout:
    """Name the layout of ``shape``.

    Returns:
        The exact known layout, or ``Layout('unknown', 'unknown', nearest)`` when none matches
        exactly (a column added or missing, a table from another version, ...). ``nearest`` is
        the family of the layout with the fewest differing features (ties: first in
        ``_CHANGELOG``), or None when no table of the file belongs to any known layout.
    """
    schema = _file_schema(shape)
    features = _features(schema)
    for i in _BY_TABLES.get(frozenset(schema), ()):
        if features == _layout_features(i):
            return _REPLAYED[i][0]
    if not schema:
        return Layout("unknown", "unknown")
    nearest = min(range(len(_REPLAYED)), key=lambda i: len(_layout_features(i) ^ features))
    return Layout("unknown", "unknown", _REPLAYED[nearest][0].family)
