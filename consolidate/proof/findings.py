"""What ``verify`` reports: each failed check named, and a verdict per simulation and table."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mismatch:
    """One failed check: where, which check, what was expected and what was found."""

    check: str
    expected: object
    found: object
    simulation_id: str | None = None
    table: str | None = None
    source: str | None = None  # the source file the check read, when it read one

    def __str__(self) -> str:
        where = "/".join(p for p in (self.simulation_id, self.table) if p)
        if self.source:
            where = f"{self.source}: {where}" if where else self.source
        where = where or "database"
        return f"{where}: {self.check}: expected {self.expected}, found {self.found}"

    def as_json(self) -> dict[str, object]:
        return {
            "simulation_id": self.simulation_id,
            "table": self.table,
            "source": self.source,
            "check": self.check,
            "expected": self.expected,
            "found": self.found,
        }


@dataclass(frozen=True)
class VerifyReport:
    target: str
    simulations: tuple[str, ...]
    cells: dict[tuple[str, str], bool]  # (simulation_id, table) -> every check passed
    mismatches: tuple[Mismatch, ...]
    notes: tuple[str, ...] = ()
    rows_compared: int = 0
    seconds: float = 0.0
    sources_compared: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "ok": self.ok,
            "simulations": list(self.simulations),
            "cells": [
                {"simulation_id": s, "table": t, "ok": ok} for (s, t), ok in self.cells.items()
            ],
            "mismatches": [m.as_json() for m in self.mismatches],
            "notes": list(self.notes),
            "sources_compared": list(self.sources_compared),
            "rows_compared": self.rows_compared,
            "seconds": round(self.seconds, 3),
        }


class Findings:
    """What verify has found so far: mismatches, a pass/fail per (simulation, table), notes."""

    def __init__(self) -> None:
        self.mismatches: list[Mismatch] = []
        self.cells: dict[tuple[str, str], bool] = {}
        self.notes: list[str] = []
        self.rows = 0
        self.compared: list[str] = []

    def check(self, ok: bool, mismatch: Mismatch) -> None:
        if mismatch.simulation_id and mismatch.table:
            key = (mismatch.simulation_id, mismatch.table)
            self.cells[key] = self.cells.get(key, True) and ok
        if not ok:
            self.mismatches.append(mismatch)
