"""Fixtures of the simulator's own tests: real simulators over HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from lapor_bridge.simulator import Faults, Simulator, SimulatorConfig

TOKEN = "sim-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def start_sim() -> Iterator[Callable[..., Simulator]]:
    """Start simulators on free ports; all are stopped at teardown."""
    started: list[Simulator] = []

    def start(*, faults: Faults | None = None, **config: Any) -> Simulator:
        sim = Simulator(SimulatorConfig(faults=faults or Faults(), **config))
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive session carrying the right token."""
    with requests.Session() as s:
        s.headers.update(AUTH)
        yield s
