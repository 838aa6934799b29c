"""Plays AgentFarm's ``Environment`` and ``run_simulation`` against ``environment.db``.

CI has no AgentFarm, so this calls the members in the order its run does (setup_db,
save_configuration, log_agents_batch, a step loop of actions, flush_if_needed, log_step and
deaths, an agent added then rolled back, the final flush, update_simulation_record completed,
close, then its cleanup's flush and second close), with the session queries its callers make on
models shaped like AgentFarm's own (``agents`` keyed by ``agent_id`` alone). ``DrivenRun``
keeps what it logged, which is what AgentFarm's own storage would hold.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Column, Float, Integer, String
from sqlalchemy.orm import DeclarativeBase, Session


class AgentFarmBase(DeclarativeBase):
    pass


class AgentModel(AgentFarmBase):
    """The columns AgentFarm's ``AgentModel`` maps, and its key: ``agent_id`` alone."""

    __tablename__ = "agents"
    simulation_id = Column(String(64))
    agent_id = Column(String(64), primary_key=True)
    birth_time = Column(Integer)
    death_time = Column(Integer)
    agent_type = Column(String(50))
    position_x = Column(Float)
    position_y = Column(Float)
    initial_resources = Column(Float)
    starting_health = Column(Float)
    genome_id = Column(String(64))
    generation = Column(Integer)


class Factory(Protocol):
    def setup_db(self, db_path: str | None, simulation_id: str, config: dict[str, Any]) -> Any: ...


AGENT_TYPES = ("SystemAgent", "IndependentAgent", "ControlAgent")


def seeded_id(seed: int, kind: str, counter: int) -> str:
    """AgentFarm's seeded ids: the same for every run with the same seed."""
    digest = hashlib.blake2b(f"{seed}:{kind}:{counter}".encode()).hexdigest()
    return f"{kind}_{digest[:10]}"


def config_dict(seed: int, *, buffer_size: int = 1000) -> dict[str, Any]:
    """A ``SimulationConfig.to_dict()`` as AgentFarm flattens it (dotted section keys)."""
    return {
        "seed": seed,
        "simulation_steps": 6,
        "population.system_agents": 2,
        "population.independent_agents": 2,
        "population.control_agents": 1,
        "database.log_buffer_size": buffer_size,
        "database.commit_interval_seconds": 30,
        "visualization": {"canvas_size": [200, 200]},
    }


@dataclass
class DrivenRun:
    """What the driver logged: AgentFarm's own storage would hold exactly this."""

    simulation_id: str
    config: dict[str, Any]
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    deaths: dict[str, int] = field(default_factory=dict)
    actions: list[tuple[Any, ...]] = field(default_factory=list)
    states: int = 0
    resources: int = 0
    steps: int = 0
    genome_ids_seen: list[str] | None = None
    results_summary: dict[str, Any] = field(default_factory=dict)


def run(
    factory: Factory, db_path: str | None, simulation_id: str, seed: int, *, steps: int = 6
) -> DrivenRun:
    config = config_dict(seed)
    rng = random.Random(seed)
    db = factory.setup_db(db_path, simulation_id, config)  # Environment.__init__
    done = DrivenRun(simulation_id, config)
    # Environment preloads the genome ids of this simulation (environment.py:593).
    done.genome_ids_seen = db._execute_in_transaction(
        lambda session: [
            row.genome_id
            for row in session.query(AgentModel.genome_id)
            .filter(AgentModel.simulation_id == simulation_id)
            .all()
        ]
    )
    resources = [(seeded_id(seed, "resource", i), 10.0, float(i), 0.0) for i in range(3)]
    for resource_id, amount, x, y in resources:  # ResourceManager at Environment.__init__
        db.logger.log_resource(resource_id, amount, (x, y))
    done.resources += len(resources)
    db.save_configuration(config)  # run_simulation
    db.logger.flush_all_buffers()
    for counter in range(5):  # create_initial_agents -> Environment.add_agent
        agent_id = seeded_id(seed, "agent", counter)
        row = {
            "simulation_id": simulation_id,
            "agent_id": agent_id,
            "birth_time": 0,
            "agent_type": AGENT_TYPES[counter % 3],
            "position": (rng.uniform(0, 10), rng.uniform(0, 10)),
            "initial_resources": 5.0,
            "starting_health": 100.0,
            "genome_id": f"genome_{counter}",
            "generation": 0,
            "action_weights": {"move": 0.5, "gather": 0.5},
        }
        db.logger.log_agents_batch([row])
        done.agents[agent_id] = row
    alive = list(done.agents)
    for step in range(steps):
        for agent_id in alive:
            reward = round(rng.uniform(-1, 1), 3)
            db.logger.log_agent_action(
                step_number=step,
                agent_id=agent_id,
                action_type="gather",
                reward=reward,
                module_type="dqn",
                module_id="1",
                action_taken=2,
                action_taken_mapped="gather",
            )
            done.actions.append((step, agent_id, "gather", reward))
        db.logger.flush_if_needed()
        if step == 2:  # an agent starves (Environment.remove_agent)
            dead = alive.pop(0)
            db.update_agent_death(agent_id=dead, death_time=step, cause="starvation")
            done.deaths[dead] = step
        if step == 3:  # an offspring whose add fails half-way is rolled back (environment.py:1640)
            _add_and_roll_back(db, simulation_id, seeded_id(seed, "agent", 99))
        states = [(a, 1.0, 2.0, 5.0, 90.0, 100.0, 0, False, 0.5, step) for a in alive]
        metrics = {
            "total_agents": len(alive),
            "agent_type_counts": {"system": 1, "independent": 1, "control": 1},
            "total_resources": 30.0,
            "births": 0,
            "deaths": int(step == 2),
        }
        db.log_step(step, states, [(r, a, x, y) for r, a, x, y in resources], metrics)
        done.states += len(states)
        done.resources += len(resources)
        done.steps += 1
    db.logger.flush_all_buffers()
    done.results_summary = {
        "total_steps": steps,
        "max_steps_configured": steps,
        "final_population": len(alive),
        "termination_reason": "completed",
    }
    db.update_simulation_record(
        simulation_id,
        status="completed",
        end_time=datetime.now(UTC),
        results_summary=done.results_summary,
    )
    db.close()
    db.logger.flush_all_buffers()  # Environment.cleanup after run_simulation closed it
    db.close()
    return done


def _add_and_roll_back(db: Any, simulation_id: str, agent_id: str) -> None:
    row = {
        "simulation_id": simulation_id,
        "agent_id": agent_id,
        "birth_time": 3,
        "agent_type": "SystemAgent",
        "position": (0.0, 0.0),
        "initial_resources": 1.0,
        "starting_health": 100.0,
    }
    db.logger.log_agents_batch([row])
    db.logger.log_agent_action(step_number=3, agent_id=agent_id, action_type="reproduce")
    db.logger.discard_pending_agents([agent_id])

    def delete_agent_row(session: Session) -> bool:
        found = (
            session.query(AgentModel)
            .filter(AgentModel.simulation_id == simulation_id, AgentModel.agent_id == agent_id)
            .first()
        )
        if found is None:
            return False
        session.delete(found)
        return True

    assert db._execute_in_transaction(delete_agent_row)
