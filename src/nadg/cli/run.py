"""`nadg` commands: run, map, runs, resume, up and demo."""

from __future__ import annotations

from nadg.cli.common import app  # noqa: F401
