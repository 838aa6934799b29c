"""AgentFarm's logging arguments turned into central rows (plain dicts of every column).

Every row of a table carries the same keys, all of the table's columns, because one
``executemany`` compiles its statement from the first row. Ids become text whatever the caller
passed (the central id columns are text, and PostgreSQL will not bind an int to them); booleans
become 0/1 for the same reason. JSON is ``json.dumps`` text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from consolidate.layouts.mapping import AGENT_TYPES
from consolidate.schema import metadata

Row = dict[str, Any]

#: simulation_steps columns a ``metrics`` dict may set: all but the key.
METRIC_COLUMNS = frozenset(metadata.tables["simulation_steps"].c.keys()) - {
    "simulation_id",
    "step_number",
}
_PER_TYPE = tuple(f"{kind}_agents" for kind in AGENT_TYPES)
AGENT_STATE_FIELDS = (
    "agent_id",
    "position_x",
    "position_y",
    "resource_level",
    "current_health",
    "starting_health",
    "starvation_counter",
    "is_defending",
    "total_reward",
    "age",
)
RESOURCE_STATE_FIELDS = ("resource_id", "amount", "position_x", "position_y")
AGENT_FIELDS = (
    "agent_id",
    "birth_time",
    "agent_type",
    "position",
    "initial_resources",
    "starting_health",
)


def utc_now() -> str:
    """Now, as UTC ISO-8601 text with its offset (legacy files mixed local and UTC times)."""
    return datetime.now(UTC).isoformat()


#: Column names of every table, looked up once: a row is built for every logged thing.
COLUMNS = {name: tuple(table.c.keys()) for name, table in metadata.tables.items()}


def blank(table: str, simulation_id: str) -> Row:
    """A row of ``table`` with every column NULL but its simulation_id."""
    row: Row = dict.fromkeys(COLUMNS[table])
    row["simulation_id"] = simulation_id
    return row


def text(value: object) -> str | None:
    return None if value is None else str(value)


def json_text(value: object) -> str | None:
    """JSON text of a dict or list; ``None`` and empty containers stay NULL, as in AgentFarm."""
    return json.dumps(value) if value else None


def check_step(step_number: int) -> None:
    if step_number < 0:
        raise ValueError(f"step_number must be non-negative, not {step_number}")


def agent(simulation_id: str, data: Mapping[str, Any]) -> Row:
    """An ``agents`` row from a ``log_agents_batch`` dict; its own simulation_id is ignored."""
    missing = [name for name in AGENT_FIELDS if name not in data]
    if missing:
        raise ValueError(f"agent data lacks required field(s) {missing}: {dict(data)!r:.200}")
    row = blank("agents", simulation_id)
    row.update(
        agent_id=text(data["agent_id"]),
        birth_time=data["birth_time"],
        agent_type=text(data["agent_type"]),
        position_x=data["position"][0],
        position_y=data["position"][1],
        initial_resources=data["initial_resources"],
        starting_health=data["starting_health"],
        genome_id=text(data.get("genome_id")),
        generation=data.get("generation", 0),
        action_weights=_action_weights(data.get("action_weights")),
    )
    return row


def _action_weights(weights: object) -> str | None:
    if weights is None or isinstance(weights, str):
        return weights
    if isinstance(weights, Mapping):
        try:  # AgentFarm's coercion: {str: float}, else the text of whatever was passed
            return json.dumps({str(k): float(v) for k, v in weights.items()})
        except (TypeError, ValueError):
            pass
    return str(weights)


def agent_states(
    simulation_id: str, step_number: int, states: Sequence[Sequence[Any]]
) -> list[Row]:
    """``agent_states`` rows from AgentFarm's 10-field tuples."""
    rows = _from_tuples("agent_states", AGENT_STATE_FIELDS, simulation_id, step_number, states)
    for row in rows:
        row["agent_id"] = text(row["agent_id"])
        row["id"] = f"{simulation_id}:{row['agent_id']}-{step_number}"
        row["is_defending"] = int(bool(row["is_defending"]))
    return rows


def resource_states(
    simulation_id: str, step_number: int, states: Sequence[Sequence[Any]]
) -> list[Row]:
    """``resource_states`` rows (without their ``id``) from (id, amount, x, y) tuples."""
    rows = _from_tuples(
        "resource_states", RESOURCE_STATE_FIELDS, simulation_id, step_number, states
    )
    for row in rows:
        row["resource_id"] = text(row["resource_id"])
    return rows


def _from_tuples(
    table: str,
    fields: Sequence[str],
    simulation_id: str,
    step_number: int,
    states: Sequence[Sequence[Any]],
) -> list[Row]:
    """Rows of ``table`` at one step from tuples holding ``fields`` in AgentFarm's order."""
    rows = []
    for state in states:
        if len(state) != len(fields):
            raise ValueError(
                f"a {table} tuple has {len(fields)} fields {tuple(fields)}, "
                f"not {len(state)}: {state!r}"
            )
        row = blank(table, simulation_id)
        row.update(zip(fields, state, strict=True))
        row["step_number"] = step_number
        rows.append(row)
    return rows


def step(simulation_id: str, step_number: int, metrics: Mapping[str, Any]) -> Row:
    """A ``simulation_steps`` row; ``metrics`` is read, never changed.

    As on merge, ``agent_type_counts`` and the per-type counts are each filled from the other
    when only one is given, so queries need not care which one a run wrote.
    """
    unknown = sorted(set(metrics) - METRIC_COLUMNS)
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}: simulation_steps has no such column")
    row = blank("simulation_steps", simulation_id)
    row.update(metrics)
    row["step_number"] = step_number
    if row["resources_consumed"] is None:  # AgentFarm's default, without mutating the caller's
        row["resources_consumed"] = 0.0
    counts = row["agent_type_counts"]
    if isinstance(counts, str):  # JSON text, kept byte for byte; the per-type columns from it
        parsed = _json_object(counts)
        if parsed is not None and not any(c in metrics for c in _PER_TYPE):
            row.update({f"{kind}_agents": parsed.get(kind) for kind in AGENT_TYPES})
    elif isinstance(counts, Mapping):
        row["agent_type_counts"] = json.dumps(dict(counts))
        if not any(c in metrics for c in _PER_TYPE):
            row.update({f"{kind}_agents": counts.get(kind) for kind in AGENT_TYPES})
    elif counts is None and all(metrics.get(c) is not None for c in _PER_TYPE):
        # the exact text SQLite's json_object() gives on merge
        by_kind = {kind: metrics[f"{kind}_agents"] for kind in AGENT_TYPES}
        row["agent_type_counts"] = json.dumps(by_kind, separators=(",", ":"))
    return row


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def action(
    simulation_id: str,
    *,
    step_number: int,
    agent_id: str,
    action_type: str,
    action_target_id: object,
    reward: float | None,
    details: Mapping[str, Any] | None,
    module_type: str | None,
    module_id: object,
    action_taken: int | None,
    action_taken_mapped: str | None,
) -> Row:
    """An ``agent_actions`` row (without its ``action_id``)."""
    check_step(step_number)
    merged = dict(details or {})  # a copy: the caller's dict is theirs
    if action_taken is not None:
        merged["action_taken"] = action_taken
    if action_taken_mapped is not None:
        merged["action_taken_mapped"] = action_taken_mapped
    row = blank("agent_actions", simulation_id)
    row.update(
        step_number=step_number,
        agent_id=text(agent_id),
        action_type=text(action_type),
        action_target_id=text(action_target_id),
        reward=reward,
        details=json_text(merged),
        module_type=module_type,
        module_id=text(module_id),
    )
    return row


def health_incident(
    simulation_id: str,
    *,
    step_number: int,
    agent_id: str,
    health_before: float | None,
    health_after: float | None,
    cause: str | None,
    details: Mapping[str, Any] | None,
) -> Row:
    """A ``health_incidents`` row (without its ``incident_id``)."""
    check_step(step_number)
    row = blank("health_incidents", simulation_id)
    row.update(
        step_number=step_number,
        agent_id=text(agent_id),
        health_before=health_before,
        health_after=health_after,
        cause=cause,
        details=json_text(details),
    )
    return row
