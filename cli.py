"""The `lapor-bridge` command line: parses arguments, calls the package, prints.

Each command calls one function of the package. Errors of the bridge become
one line on stderr and the exit status their class carries.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from lapor_bridge.errors import BridgeError
from lapor_bridge.runtime import Runtime

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
F = TypeVar("F", bound=Callable[..., Any])


def bridge_command(func: F) -> F:
    """Turn BridgeError into `error: <message>` and its exit status."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BridgeError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: the next run continues where this one stopped", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def runtime() -> Runtime:
    return Runtime()


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# --- pull commands -----------------------------------------------------------


# --- mapping commands --------------------------------------------------------


# --- SLA commands ------------------------------------------------------------


# --- push commands -----------------------------------------------------------


# --- simulator commands ------------------------------------------------------


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
