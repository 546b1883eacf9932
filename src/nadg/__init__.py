"""NADG: split one big task into many and run them on a fleet of cheap, unreliable workers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from nadg.grid import Grid


def __getattr__(name: str) -> Any:
    # Lazy, so a worker (which imports only nadg.worker) never loads the master's stack.
    if name == "Grid":
        from nadg.grid import Grid

        return Grid
    raise AttributeError(name)


__all__ = ["Grid", "__version__"]
