"""`nadg` commands: workers, db and heartbeat."""

from __future__ import annotations

from nadg.cli.common import app  # noqa: F401
