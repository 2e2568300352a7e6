"""The deployment kit: the example config generated from Settings, and `init`.

`deploy/lapor-bridge.toml` in the repository is `example_toml()`'s output
(a test keeps them equal, so the file lists every setting with its current
default and meaning); `lapor-bridge init DIR` writes it and copies the
mappings shipped in the package (lapor_bridge/defaults/mappings).
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

SHIPPED_MAPPINGS = Path(__file__).parent / "defaults" / "mappings"
PLACEHOLDERS = {
    "api_url": '"https://lapor.example.go.id/api/v1"',
    "token": '"..."',
    "instansi_id": "3327",
}
EXAMPLES = {  # settings whose default is "unset": an example value to uncomment
    "lock_dir": '"/var/lib/lapor-bridge"',
    "metrics_file": '"/var/lib/prometheus/node-exporter/lapor_bridge.prom"',
}
HEADER = """\
# lapor-bridge settings. Every setting is listed with its default and meaning.
# A commented line keeps the default; uncomment and edit to change it.
# Each can also be set in the environment as LAPOR_BRIDGE_<NAME> (it wins
# over this file). Point LAPOR_BRIDGE_CONFIG at this file, or run in its
# folder. Check the effect with `lapor-bridge config check`.
# Keep the token out of this file where you can: put LAPOR_BRIDGE_TOKEN in
# the service's environment file (deploy/lapor-bridge.service: EnvironmentFile).
"""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return json.dumps(value.isoformat())
    return json.dumps(str(value), ensure_ascii=False)


def example_toml() -> str:
    """Every setting of lapor_bridge.config.Settings with its default and meaning."""
    from lapor_bridge.config import ENV_PREFIX, Settings

    out = [HEADER]
    for name, info in Settings.model_fields.items():
        meaning = info.description or ""
        out.append(f"# {meaning} ({ENV_PREFIX}{name.upper()})")
        if name in PLACEHOLDERS:
            out.append(
                f"# required by sync, backfill and push; no default\n#{name} = {PLACEHOLDERS[name]}\n"
            )
        elif info.default is None:
            example = EXAMPLES.get(name, '""')
            out.append(f"# default: unset, for example:\n#{name} = {example}\n")
        else:
            out.append(f"#{name} = {_toml_value(info.default)}\n")
    return "\n".join(out)


def init_directory(directory: Path, *, force: bool = False) -> list[str]:
    """`lapor-bridge init DIR`: lapor-bridge.toml and mappings/, never overwriting
    without `force`. Returns what was done, one line each."""
    from lapor_bridge.errors import ConfigError

    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "lapor-bridge.toml"
    mappings = directory / "mappings"
    if not force:
        existing = [p for p in (config, mappings) if p.exists()]
        if existing:
            raise ConfigError(
                f"{', '.join(map(str, existing))} already exist(s): nothing written; "
                "use --force to overwrite"
            )
    source = SHIPPED_MAPPINGS if SHIPPED_MAPPINGS.is_dir() else None
    if source is None:
        raise ConfigError(
            f"the shipped mappings are missing from the installation ({SHIPPED_MAPPINGS})"
        )
    config.write_text(example_toml(), encoding="utf-8")
    mappings.mkdir(exist_ok=True)
    copied = []
    for yaml in sorted(source.glob("*.yaml")):
        shutil.copyfile(yaml, mappings / yaml.name)
        copied.append(yaml.name)
    return [
        f"wrote {config} (every setting, commented: set api_url, instansi_id and the token)",
        f"copied {', '.join(copied)} to {mappings}/ (fill in each OPD's liaison contacts)",
        f"next: cd {directory} && lapor-bridge config check && lapor-bridge mappings check",
    ]


if __name__ == "__main__":  # python -m lapor_bridge.deploy  (regenerates deploy/lapor-bridge.toml)
    target = Path(__file__).resolve().parent.parent / "deploy" / "lapor-bridge.toml"
    target.write_text(example_toml(), encoding="utf-8")
    print(f"wrote {target}")
