"""LAPOR! API simulator: a real HTTP server keeping the upstream contract, with trap switches.

from lapor_bridge.simulator import Simulator, SimulatorConfig, Faults
with Simulator(SimulatorConfig(initial_reports=500)) as sim:
    requests.get(sim.url + "/topics", headers={"Authorization": "Bearer sim-token"})
"""

from __future__ import annotations

from .config import Faults, SimulatorConfig
from .server import Simulator, serve

__all__ = ["Faults", "Simulator", "SimulatorConfig", "serve"]
