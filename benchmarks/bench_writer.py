"""Writer speed, side by side with a raw sqlite3 executemany of the same rows, in one run.

    python benchmarks/bench_writer.py [--agents 100] [--steps 200] [--repeat 5] [--buffer-size 1000]

One simulation of ``--agents`` agents over ``--steps`` steps: the agents, one state per agent
per step, one action per agent per step and one ``simulation_steps`` row per step (by default
40,300 rows), written into a fresh experiment database at the schema head:

- ``writer``: through ``consolidate.writer`` as AgentFarm code would log them
  (``log_agent``, ``log_step``, ``log_agent_action``), from creating the simulation's context to
  closing it;
- ``raw``: the same rows built as tuples and inserted by plain sqlite3 ``executemany`` in one
  transaction, with the writer's pragmas (the limit for Python feeding SQLite).

Timings are medians of ``--repeat`` interleaved runs; what matters is the ratio, since machines
here are shared and noisy. Both databases are checked to hold the same row counts, and the
writer's passes ``consolidate.verify``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_merge import print_result  # noqa: E402

from consolidate import verify  # noqa: E402
from consolidate.schema.migrations import upgrade  # noqa: E402
from consolidate.schema.targets import central_engine  # noqa: E402
from consolidate.writer import DataLoggingConfig, ExperimentDatabase  # noqa: E402

SIM = "sim_bench"
TABLES = ("agents", "agent_states", "agent_actions", "simulation_steps")


def fresh_target(folder: Path, name: str) -> Path:
    target = folder / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    engine = central_engine(target)
    upgrade(engine)
    engine.dispose()
    return target


def state(agent: int, step: int) -> tuple[object, ...]:
    return (
        f"agent_{agent}",
        agent * 1.0,
        step * 1.0,
        10.0,
        90.0,
        100.0,
        0,
        False,
        step * 0.5,
        step,
    )


def run_writer(target: Path, agents: int, steps: int, buffer_size: int) -> float:
    database = ExperimentDatabase(target, "bench")  # opening (schema gate) is not timed
    started = time.perf_counter()
    config = DataLoggingConfig(buffer_size=buffer_size)
    context = database.create_simulation_context(SIM, {"agents": agents}, config)
    for agent in range(agents):
        context.log_agent(f"agent_{agent}", 0, "system", (agent * 1.0, 0.0), 10.0, 100.0)
    for step in range(steps):
        states = [state(agent, step) for agent in range(agents)]
        context.log_step(step, states, [], {"total_agents": agents, "births": 0, "deaths": 0})
        for agent in range(agents):
            context.log_agent_action(
                step_number=step,
                agent_id=f"agent_{agent}",
                action_type="move",
                reward=0.5,
                action_taken=agent % 4,
            )
    context.close()
    elapsed = time.perf_counter() - started
    database.close()
    return elapsed


def run_raw(target: Path, agents: int, steps: int) -> float:
    conn = sqlite3.connect(target, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(
        "INSERT INTO experiments (experiment_id, status, creation_date)"
        " VALUES ('bench', 'running', '2026-01-01 00:00:00')"
    )
    conn.execute(
        "INSERT INTO simulations (simulation_id, experiment_id, origin, status) "
        f"VALUES ('{SIM}', 'bench', 'writer', 'running')"
    )
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO agents (simulation_id, agent_id, birth_time, agent_type, position_x, "
        "position_y, initial_resources, starting_health, generation) "
        "VALUES (?, ?, 0, 'system', ?, 0.0, 10.0, 100.0, 0)",
        [(SIM, f"agent_{agent}", agent * 1.0) for agent in range(agents)],
    )
    action_id = 0
    for step in range(steps):
        conn.executemany(
            "INSERT INTO agent_states (simulation_id, id, step_number, agent_id, position_x, "
            "position_y, resource_level, current_health, starting_health, starvation_counter, "
            "is_defending, total_reward, age) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (SIM, f"{SIM}:agent_{agent}-{step}", step, *state(agent, step))
                for agent in range(agents)
            ],
        )
        conn.execute(
            "INSERT INTO simulation_steps (simulation_id, step_number, total_agents, births, "
            "deaths, resources_consumed) VALUES (?, ?, ?, 0, 0, 0.0)",
            (SIM, step, agents),
        )
        rows = []
        for agent in range(agents):
            action_id += 1
            details = json.dumps({"action_taken": agent % 4})
            rows.append((SIM, action_id, step, f"agent_{agent}", "move", 0.5, details))
        conn.executemany(
            "INSERT INTO agent_actions (simulation_id, action_id, step_number, agent_id, "
            "action_type, reward, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def counts(target: Path) -> dict[str, int]:
    with closing(sqlite3.connect(target)) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def interleaved(
    repeat: int, contenders: dict[str, Callable[[Path], float]], work: Path
) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, run in contenders.items():
            times[name].append(run(fresh_target(work, name)))
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--buffer-size", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--workdir", help="where to write the databases (default: the temp dir)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-writer-", dir=args.workdir))
    try:
        medians = interleaved(
            args.repeat,
            {
                "writer": lambda t: run_writer(t, args.agents, args.steps, args.buffer_size),
                "raw": lambda t: run_raw(t, args.agents, args.steps),
            },
            work,
        )
        written = counts(work / "writer.db")
        assert written == counts(work / "raw.db"), (written, counts(work / "raw.db"))
        checked = verify(str(work / "writer.db"))
        assert checked.ok, checked.mismatches
        rows = sum(written.values())
        ours, raw = medians["writer"], medians["raw"]
        result: dict[str, object] = {
            "rows": rows,
            "writer_s": round(ours, 3),
            "raw_executemany_s": round(raw, 3),
            "writer_rows_per_s": round(rows / ours),
            "raw_rows_per_s": round(rows / raw),
            "writer_vs_raw": round(ours / raw, 2),
        }
        print_result(result, as_json=args.json)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
