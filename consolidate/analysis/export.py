"""Writing a query's rows to a CSV file, streamed, appearing only once complete."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Select

from consolidate.analysis.columns import dtypes_of
from consolidate.errors import UsageError

#: Rows per chunk when exporting, so memory stays flat whatever the size of the table.
EXPORT_CHUNK_ROWS = 50_000


def write_csv(conn: Connection, query: Select[Any], out: Path) -> int:
    """Write ``query``'s rows to ``out`` with a header of its column names; return the rows.

    Integers stay integers and floats are unrounded (the schema's dtypes, not the values', decide);
    a server-side cursor on PostgreSQL keeps memory flat. After a failure no file is left behind.
    """
    import pandas as pd

    if not out.parent.is_dir():
        raise UsageError(f"{out}: the folder {out.parent} does not exist")
    dtypes, dates = dtypes_of(query)
    partial = out.with_name(f".{out.name}.part")
    written = 0
    try:
        with partial.open("w", newline="", encoding="utf-8") as f:
            # plain identifiers: no quoting
            f.write(",".join(str(c.key) for c in query.selected_columns) + "\n")
            for chunk in pd.read_sql(
                query,
                conn.execution_options(stream_results=True),  # server-side cursor on PG
                chunksize=EXPORT_CHUNK_ROWS,
                dtype=dtypes,
                parse_dates=dates,
                dtype_backend="numpy_nullable",
            ):
                chunk.to_csv(f, index=False, header=False, lineterminator="\n")
                written += len(chunk)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return written
