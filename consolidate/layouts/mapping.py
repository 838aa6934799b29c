"""How every legacy table and column lands in the central schema, written once.

A :class:`TableMapping` is a SELECT over one legacy table whose output columns are central
columns. The SQLite sink runs it inside the engine (``INSERT INTO t (...) SELECT ...`` over an
attached source); the PostgreSQL sink runs the very same SELECT on the source and streams its rows
into COPY; verify runs it again to compare. Each output column is one of:

- direct: same name, same storage class;
- renamed: ``max_health`` -> ``starting_health``, ``starvation_threshold`` -> ``starvation_counter``
  (the columns were replaced, never both present), f1 ``initial_position_x/y`` -> ``position_x/y``,
  f1 ``state_id`` -> ``id``;
- converted: the legacy declared type has another SQLite affinity than the central column, so the
  expression applies the central affinity explicitly (integer agent ids become text ``'7'``,
  integer amounts become reals; a real bound for a text column becomes its exact decimal text,
  where SQLite's own conversion would keep only 15 digits). Writing it out makes the SELECT
  produce exactly the stored value, which is what lets verify compare both sides;
- derived: ``simulation_id`` (``:sim``, the id the run gets; a row may carry ``:own``, the file's
  own id, or nothing; a row carrying another id yields NULL and the NOT NULL constraint rejects
  the source rather than mislabel it), f1 ``step_number`` from
  ``step_id``, ``id`` from the rowid where a state table had no single key, and the per-type agent
  counts and ``agent_type_counts`` JSON, each filled from the other when the layout lacks it.

A legacy column with no home makes :func:`map_source` report it; callers reject the source.
"""

from __future__ import annotations

from dataclasses import dataclass

from consolidate.layouts.shapes import SourceShape, TableShape
from consolidate.schema.columns import CENTRAL_COLUMNS

#: Legacy table name (lower-cased) -> central table. ``simulations`` is not here: its single row
#: becomes columns of the central ``simulations`` row (see :data:`SIMULATION_ROW`).
CENTRAL_TABLE = {
    "agents": "agents",
    "agentstates": "agent_states",
    "agent_states": "agent_states",
    "resourcestates": "resource_states",
    "resource_states": "resource_states",
    "simulationsteps": "simulation_steps",
    "simulation_steps": "simulation_steps",
    "agentactions": "agent_actions",
    "agent_actions": "agent_actions",
    "learningexperiences": "learning_experiences",
    "learning_experiences": "learning_experiences",
    "healthincidents": "health_incidents",
    "health_incidents": "health_incidents",
    "simulationconfig": "simulation_config",
    "simulation_config": "simulation_config",
    "reproduction_events": "reproduction_events",
    "social_interactions": "social_interactions",
    "interactions": "interactions",
    "resources": "resources",
    "simulationmetrics": "simulation_metrics",
    "combatevents": "combat_events",
    "sharingevents": "sharing_events",
    "experiments": "legacy_experiments",
    "experiment_events": "experiment_events",
    "experiment_metrics": "experiment_metrics",
}

#: Legacy tables that hold no run data: SQLite's AUTOINCREMENT bookkeeping (f1).
IGNORED_TABLES = frozenset({"sqlite_sequence"})

#: Documented renames, per central table: legacy column -> central column.
RENAMES = {
    "agents": {
        "initial_position_x": "position_x",
        "initial_position_y": "position_y",
        "max_health": "starting_health",
        "starvation_threshold": "starvation_counter",
    },
    "agent_states": {
        "state_id": "id",
        "max_health": "starting_health",
        "starvation_threshold": "starvation_counter",
    },
    "resource_states": {"state_id": "id"},
}

#: Legacy ``simulations`` column -> central ``simulations`` column.
SIMULATION_ROW = {
    "simulation_id": "legacy_simulation_id",
    "experiment_id": "legacy_experiment_id",
    "start_time": "start_time",
    "end_time": "end_time",
    "status": "status",
    "parameters": "parameters",
    "results_summary": "results_summary",
    "simulation_db_path": "simulation_db_path",
    "iteration_number": "iteration_number",
    "config_variation": "config_variation",
}

AGENT_TYPES = ("system", "independent", "control")

#: Stands for the attached schema's prefix inside expressions that read a second legacy table.
SCHEMA = "{schema}"


@dataclass(frozen=True)
class ColumnMapping:
    """One central column and the SQLite expression (over alias ``s``) that fills it."""

    central: str
    expression: str
    legacy: str | None  # None for derived columns
    how: str  # 'direct', 'renamed', 'converted' or 'derived'


@dataclass(frozen=True)
class TableMapping:
    """One legacy table landing in one central table."""

    legacy_table: str
    central_table: str
    columns: tuple[ColumnMapping, ...]
    where: str | None = None  # a condition over alias s (an experiment database: one simulation)

    @property
    def central_columns(self) -> tuple[str, ...]:
        return tuple(c.central for c in self.columns)

    def select_sql(self, schema: str | None = None) -> str:
        """The SELECT producing central rows; binds ``:sim`` and ``:own`` (see the module doc).

        Args:
            schema: the alias of an attached source database, or None for the main database.
        """
        prefix = f"{quote(schema)}." if schema else ""
        exprs = ", ".join(c.expression for c in self.columns).replace(SCHEMA, prefix)
        return f"SELECT {exprs} FROM {prefix}{quote(self.legacy_table)} AS s{self._where}"

    def count_sql(self, schema: str | None = None) -> str:
        """Rows the SELECT yields; binds ``:own`` when the mapping has a ``where``."""
        prefix = f"{quote(schema)}." if schema else ""
        return f"SELECT count(*) FROM {prefix}{quote(self.legacy_table)} AS s{self._where}"

    @property
    def _where(self) -> str:
        return f" WHERE {self.where}" if self.where else ""


@dataclass(frozen=True)
class SourceMapping:
    """Everything a source holds, mapped: data tables, the simulations row, and what is left."""

    tables: tuple[TableMapping, ...]
    simulation_table: TableShape | None
    homeless_columns: tuple[str, ...]  # 'Table.column' with no central home
    unknown_tables: tuple[str, ...]


def quote(identifier: str) -> str:
    """A SQL identifier in double quotes; embedded quotes doubled, so no name is ever executed."""
    return '"' + identifier.replace('"', '""') + '"'


def affinity(declared_type: str) -> str:
    """SQLite's column affinity for a declared type (the rules of datatype3.html, in order)."""
    upper = declared_type.upper()
    if "INT" in upper:
        return "INTEGER"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in upper or not upper:
        return "BLOB"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def central_affinity(table: str, column: str) -> str:
    """The SQLite affinity of a central column (from the plain catalog, not SQLAlchemy)."""
    return CENTRAL_COLUMNS[table][column]


def convert(expr: str, legacy: str, central: str) -> str:
    """``expr`` with the central column's affinity applied as SQLite would on INSERT."""
    if legacy == central or (legacy == "NUMERIC" and central == "INTEGER"):
        return expr
    if central == "TEXT":
        # SQLite renders a real as text with 15 significant digits, which can round it; the
        # 17-digit form is used whenever the short one would not read back as the same number.
        short = f"CAST({expr} AS TEXT)"
        exact = f"printf('%!.17g', {expr})"
        return (
            f"CASE typeof({expr}) WHEN 'integer' THEN {short} "
            f"WHEN 'real' THEN CASE WHEN CAST({short} AS REAL) = {expr} THEN {short} "
            f"ELSE {exact} END ELSE {expr} END"
        )
    if central == "REAL":
        return f"CASE WHEN typeof({expr}) = 'integer' THEN CAST({expr} AS REAL) ELSE {expr} END"
    if central == "INTEGER":
        return (
            f"CASE WHEN typeof({expr}) = 'real' AND {expr} = CAST({expr} AS INTEGER) "
            f"THEN CAST({expr} AS INTEGER) ELSE {expr} END"
        )
    return expr


def map_source(shape: SourceShape) -> SourceMapping:
    """Map every table of a source; nothing is dropped without being named in the result."""
    tables: list[TableMapping] = []
    homeless: list[str] = []
    unknown: list[str] = []
    simulations: TableShape | None = None
    steps = shape.table("SimulationSteps")
    for legacy in shape.tables:
        key = legacy.name.lower()
        if key in IGNORED_TABLES:
            continue
        if key == "simulations":
            simulations = legacy
            homeless += [
                f"{legacy.name}.{c.name}" for c in legacy.columns if c.name not in SIMULATION_ROW
            ]
            continue
        central_name = CENTRAL_TABLE.get(key)
        if central_name is None:
            unknown.append(legacy.name)
            continue
        mapping, missing = _map_table(legacy, central_name, steps)
        tables.append(mapping)
        homeless += missing
    return SourceMapping(tuple(tables), simulations, tuple(homeless), tuple(unknown))


def _map_table(
    legacy: TableShape, central: str, steps: TableShape | None
) -> tuple[TableMapping, list[str]]:
    renames = RENAMES.get(central, {})
    central_columns = CENTRAL_COLUMNS[central]
    columns: list[ColumnMapping] = []
    homeless: list[str] = []
    for column in legacy.columns:
        if column.name == "simulation_id":
            continue
        target = renames.get(column.name, column.name)
        if target not in central_columns or target == "simulation_id":
            homeless.append(f"{legacy.name}.{column.name}")
            continue
        expr = f"s.{quote(column.name)}"
        converted = convert(expr, affinity(column.declared_type), central_affinity(central, target))
        how = "renamed" if target != column.name else "converted" if converted != expr else "direct"
        columns.append(ColumnMapping(target, converted, column.name, how))
    fed = {c.central for c in columns}
    columns.insert(0, ColumnMapping("simulation_id", _simulation_id(legacy), None, "derived"))
    derived = _derived(legacy, central, fed, steps)
    columns += derived
    return TableMapping(legacy.name, central, tuple(columns)), homeless


def _simulation_id(legacy: TableShape) -> str:
    if not legacy.has("simulation_id"):
        return ":sim"
    own = "s.simulation_id"
    return f"CASE WHEN {own} IS NULL OR {own} = '' OR {own} = :own THEN :sim END"


def _derived(
    legacy: TableShape, central: str, fed: set[str], steps: TableShape | None
) -> list[ColumnMapping]:
    out: list[ColumnMapping] = []
    has_step = "step_number" in CENTRAL_COLUMNS[central]
    if has_step and "step_number" not in fed and legacy.has("step_id"):
        if steps is not None:  # f1: states and metrics point at SimulationSteps by step_id
            lookup = (
                f"(SELECT st.step_number FROM {SCHEMA}{quote(steps.name)} AS st "
                "WHERE st.step_id = s.step_id)"
            )
            out.append(ColumnMapping("step_number", lookup, "step_id", "derived"))
    keyless = central in ("agent_states", "resource_states") and "id" not in fed
    if keyless:
        rowid = convert("s.rowid", "INTEGER", central_affinity(central, "id"))
        out.append(ColumnMapping("id", rowid, None, "derived"))
    if central == "simulation_steps":
        out += _type_counts(fed)
    return out


def _type_counts(fed: set[str]) -> list[ColumnMapping]:
    per_type = [f"{kind}_agents" for kind in AGENT_TYPES]
    if "agent_type_counts" not in fed and all(c in fed for c in per_type):
        pairs = ", ".join(f"'{kind}', s.{kind}_agents" for kind in AGENT_TYPES)
        return [ColumnMapping("agent_type_counts", f"json_object({pairs})", None, "derived")]
    if "agent_type_counts" in fed and not any(c in fed for c in per_type):
        valid = "json_valid(s.agent_type_counts)"
        return [
            ColumnMapping(
                f"{kind}_agents",
                f"CASE WHEN {valid} THEN json_extract(s.agent_type_counts, '$.{kind}') END",
                None,
                "derived",
            )
            for kind in AGENT_TYPES
        ]
    return []
