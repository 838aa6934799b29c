"""A simulation's rows written out in AgentFarm's ``export_data`` shapes, without pandas.

The data types and files are AgentFarm's: ``metrics`` (``simulation_steps``), ``agents``
(``agent_states``), ``resources`` (``resource_states``) and ``actions`` (``agent_actions``);
``csv`` writes ``<base>_<type>.csv`` per type plus ``<base>_metadata.json``, ``json`` one file,
``excel`` one sheet per type, ``parquet`` one file for a single type, else
``<base>_<type>.parquet`` per type (and ``<base>_metadata.json``, which AgentFarm dropped).
Unlike AgentFarm's, only one simulation's rows are written, each table is filtered on its own
``step_number`` (AgentFarm filtered every table on ``simulation_steps`` and so joined them),
and ``metrics`` keeps its ``step_number`` column.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
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
    data = {kind: _records(engine, simulation_id, kind, start_step, end_step) for kind in kinds}
    if metadata_block is not None:
        metadata_block = {**metadata_block, "exported_types": kinds}
    base = filepath.with_suffix("") if filepath.suffix else filepath
    if format == "csv":
        for kind, records in data.items():
            _write_csv(Path(f"{base}_{kind}.csv"), DATA_TYPES[kind], records)
    elif format == "json":
        document: dict[str, Any] = dict(data)
        if metadata_block is not None:
            document["metadata"] = metadata_block
        filepath.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
        return
    elif format == "excel":
        _write_excel(filepath, data, metadata_block)
        return
    else:
        _write_parquet(filepath, base, data, single=metadata_block is None)
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


def _records(
    engine: Engine, simulation_id: str, kind: str, start_step: int | None, end_step: int | None
) -> Records:
    table = metadata.tables[DATA_TYPES[kind]]
    query = select(table).where(table.c.simulation_id == simulation_id)
    if start_step is not None:
        query = query.where(table.c.step_number >= start_step)
    if end_step is not None:
        query = query.where(table.c.step_number <= end_step)
    query = query.order_by(*table.primary_key.columns)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def _write_csv(path: Path, table: str, records: Records) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(metadata.tables[table].c.keys()))
        writer.writeheader()
        writer.writerows(records)


def _write_excel(
    filepath: Path, data: dict[str, Records], metadata_block: dict[str, Any] | None
) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for kind, records in data.items():
        sheet = book.create_sheet(kind)
        columns = list(metadata.tables[DATA_TYPES[kind]].c.keys())
        sheet.append(columns)
        for record in records:
            sheet.append([record[column] for column in columns])
    if metadata_block is not None:
        sheet = book.create_sheet("metadata")
        sheet.append(list(metadata_block))
        sheet.append([json.dumps(value, default=str) for value in metadata_block.values()])
    book.save(filepath)


def _write_parquet(filepath: Path, base: Path, data: dict[str, Records], *, single: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def table_of(kind: str) -> Any:
        columns = list(metadata.tables[DATA_TYPES[kind]].c.keys())
        return pa.table({column: [record[column] for record in data[kind]] for column in columns})

    if single and len(data) == 1:
        pq.write_table(table_of(next(iter(data))), filepath)
        return
    for kind in data:
        pq.write_table(table_of(kind), f"{base}_{kind}.parquet")
