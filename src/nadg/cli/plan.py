"""`nadg` commands: plan."""

from __future__ import annotations

from nadg.cli.common import app  # noqa: F401
