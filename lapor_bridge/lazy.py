"""Package names imported from their module at first use, so that importing a
package (or one module of it) loads only what a command uses."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_names(
    package: str, namespace: dict[str, Any], module_of: dict[str, str]
) -> Callable[[str], Any]:
    """A module-level `__getattr__` for `package`: each name of `module_of` is
    imported from its module (a dotted path, or a module of `package`) the first
    time it is asked for, then kept in `namespace` so the next use is a plain lookup."""

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        path = module if "." in module else f"{package}.{module}"
        value = getattr(importlib.import_module(path), name)
        namespace[name] = value
        return value

    return __getattr__
