"""A simulation's rows written out in AgentFarm's ``export_data`` shapes, without pandas.

The data types and files are AgentFarm's: ``metrics`` (``simulation_steps``), ``agents``
(``agent_states``), ``resources`` (``resource_states``) and ``actions`` (``agent_actions``);
``csv`` writes ``<base>_<type>.csv`` per type plus ``<base>_metadata.json``, ``json`` one file,
``excel`` one sheet per type, ``parquet`` one file for a single type, else
``<base>_<type>.parquet`` per type (and ``<base>_metadata.json``, which AgentFarm dropped).
Unlike AgentFarm's, only one simulation's rows are written, each table is filtered on its own
``step_number`` (AgentFarm filtered every table on ``simulation_steps`` and so joined them),
and ``metrics`` keeps its ``step_number`` column. Rows are read and written
:data:`BATCH_ROWS` at a time, so memory stays flat however large the simulation; parquet columns
take their types from the schema (a column with no value is typed, not ``null``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from consolidate.errors import UsageError
from consolidate.schema import metadata

DATA_TYPES: Mapping[str, str] = {
    "metrics": "simulation_steps",
    "agents": "agent_states",
    "resources": "resource_states",
    "actions": "agent_actions",
}
FORMATS = ("csv", "excel", "json", "parquet")
#: The optional extra (``pip install 'consolidate[<extra>]'``) and module each format needs.
EXTRAS = {"excel": ("excel", "openpyxl"), "parquet": ("parquet", "pyarrow")}

Records = list[dict[str, Any]]
#: A data type's rows, a batch at a time.
Batches = Callable[[str], Iterator[Records]]
#: Rows read and written at a time.
BATCH_ROWS = 1000


def export_tables(
    engine: Engine,
    simulation_id: str,
    filepath: Path,
    *,
    format: str,
    data_types: list[str] | None,
    start_step: int | None,
    end_step: int | None,
    metadata_block: dict[str, Any] | None,
) -> None:
    """Write the chosen data types of one simulation to ``filepath`` in ``format``.

    Raises:
        ValueError: an unknown format or data type (AgentFarm raised ValueError too).
        UsageError: the format needs an optional library that is not installed.
    """
    if format not in FORMATS:
        raise ValueError(f"Unsupported export format: {format} (one of {', '.join(FORMATS)})")
    kinds = list(data_types or DATA_TYPES)
    unknown = [kind for kind in kinds if kind not in DATA_TYPES]
    if unknown:
        raise ValueError(f"unknown data types {unknown}; known: {', '.join(DATA_TYPES)}")
    if format in EXTRAS:
        _require(format)
    if metadata_block is not None:
        metadata_block = {**metadata_block, "exported_types": kinds}

    def batches(kind: str) -> Iterator[Records]:
        return _record_batches(engine, simulation_id, kind, start_step, end_step)

    base = filepath.with_suffix("") if filepath.suffix else filepath
    if format == "csv":
        for kind in kinds:
            _write_csv(Path(f"{base}_{kind}.csv"), kind, batches(kind))
    elif format == "json":
        _write_json(filepath, kinds, batches, metadata_block)
        return
    elif format == "excel":
        _write_excel(filepath, kinds, batches, metadata_block)
        return
    else:
        _write_parquet(filepath, base, kinds, batches, single=metadata_block is None)
    if metadata_block is not None:
        text = json.dumps(metadata_block, indent=2, default=str)
        Path(f"{base}_metadata.json").write_text(text, encoding="utf-8")


def _require(format: str) -> None:
    extra, module = EXTRAS[format]
    try:
        __import__(module)
    except ImportError:
        raise UsageError(
            f"export_data format {format!r} needs {module}: pip install 'consolidate[{extra}]'"
        ) from None


def _record_batches(
    engine: Engine, simulation_id: str, kind: str, start_step: int | None, end_step: int | None
) -> Iterator[Records]:
    """One data type's rows in primary-key order, :data:`BATCH_ROWS` at a time (a server-side
    cursor on PostgreSQL), so an export holds one batch in memory, not the table."""
    table = metadata.tables[DATA_TYPES[kind]]
    query = select(table).where(table.c.simulation_id == simulation_id)
    if start_step is not None:
        query = query.where(table.c.step_number >= start_step)
    if end_step is not None:
        query = query.where(table.c.step_number <= end_step)
    query = query.order_by(*table.primary_key.columns)
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=BATCH_ROWS).execute(query)
        for part in result.partitions():
            yield [dict(row._mapping) for row in part]


def _columns(kind: str) -> list[str]:
    return list(metadata.tables[DATA_TYPES[kind]].c.keys())


def _write_csv(path: Path, kind: str, batches: Iterator[Records]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=_columns(kind))
        writer.writeheader()
        for records in batches:
            writer.writerows(records)


def _write_json(
    filepath: Path,
    kinds: list[str],
    batches: Batches,
    metadata_block: dict[str, Any] | None,
) -> None:
    """``json.dumps({kind: [rows], ..., "metadata": ...}, indent=2)``, written a row at a time:
    the same text, to the byte, without the document in memory."""

    def nested(value: Any, depth: int) -> str:
        return json.dumps(value, indent=2, default=str).replace("\n", "\n" + "  " * depth)

    with filepath.open("w", encoding="utf-8") as out:
        out.write("{")
        for n, kind in enumerate(kinds):
            out.write(f"{',' if n else ''}\n  {json.dumps(kind)}: [")
            written = 0
            for records in batches(kind):
                for record in records:
                    out.write(f"{',' if written else ''}\n    {nested(record, 2)}")
                    written += 1
            out.write("\n  ]" if written else "]")
        if metadata_block is not None:
            out.write(f',\n  "metadata": {nested(metadata_block, 1)}')
        out.write("\n}")


def _write_excel(
    filepath: Path,
    kinds: list[str],
    batches: Batches,
    metadata_block: dict[str, Any] | None,
) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)  # rows go to a temporary file as they are appended
    for kind in kinds:
        sheet = book.create_sheet(kind)
        columns = _columns(kind)
        sheet.append(columns)
        for records in batches(kind):
            for record in records:
                sheet.append([record[column] for column in columns])
    if metadata_block is not None:
        sheet = book.create_sheet("metadata")
        sheet.append(list(metadata_block))
        sheet.append([json.dumps(value, default=str) for value in metadata_block.values()])
    book.save(filepath)


def _write_parquet(
    filepath: Path,
    base: Path,
    kinds: list[str],
    batches: Batches,
    *,
    single: bool,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = {"BigInteger": pa.int64, "Integer": pa.int64, "Float": pa.float64, "Text": pa.string}

    def write(kind: str, path: Path | str) -> None:
        table = metadata.tables[DATA_TYPES[kind]]
        # A schema from the columns' types, not guessed from a batch: a column empty in the
        # first batch would otherwise be typed null and refuse the next batch's values.
        schema = pa.schema([(c.name, arrow[type(c.type).__name__]()) for c in table.c])
        with pq.ParquetWriter(path, schema) as writer:
            for records in batches(kind):
                columns = {name: [record[name] for record in records] for name in schema.names}
                writer.write_table(pa.table(columns, schema=schema))

    if single and len(kinds) == 1:
        write(kinds[0], filepath)
        return
    for kind in kinds:
        write(kind, f"{base}_{kind}.parquet")
