"""The registry: every SQL statement of NADG lives in this package.

`from nadg.registry import Registry` works; it is imported lazily so that importing the models
(as the heartbeat and the dispatcher do) does not load SQLAlchemy's engine machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nadg.registry.store import Registry


def __getattr__(name: str) -> Any:
    if name == "Registry":
        from nadg.registry.store import Registry

        return Registry
    raise AttributeError(name)


__all__ = ["Registry"]
