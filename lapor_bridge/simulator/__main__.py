"""`python -m lapor_bridge.simulator`: serve the simulator in the foreground (Ctrl-C stops)."""

from __future__ import annotations

import argparse

from .config import Faults, SimulatorConfig
from .server import serve


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m lapor_bridge.simulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8708)
    p.add_argument("--seed", type=int, default=1708)
    p.add_argument("--reports", type=int, default=300, help="seeded reports (initial_reports)")
    p.add_argument("--change-rate", type=float, default=0.0, help="background changes per second")
    p.add_argument("--token", default="sim-token")
    p.add_argument(
        "--faults",
        default="{}",
        help="JSON object of Faults fields, e.g. '{\"visibility_lag_s\": 120}'",
    )
    a = p.parse_args(argv)
    config = SimulatorConfig(
        seed=a.seed,
        token=a.token,
        initial_reports=a.reports,
        change_rate_per_s=a.change_rate,
        faults=Faults.model_validate_json(a.faults),
    )
    serve(config, host=a.host, port=a.port)


if __name__ == "__main__":
    main()
