"""`nadg`: the command line. Each submodule adds the commands of one concept to `app`."""

from __future__ import annotations

import sys

from nadg.cli.common import app, exit_code_for
from nadg.errors import NadgError

# Importing a submodule registers its commands on `app`.
from nadg.cli import fleet, local, plan, run, ui, worker  # noqa: F401  isort: skip


def main() -> None:
    """Console entry point: a NadgError becomes one line on stderr and a non-zero exit."""
    try:
        app()
    except NadgError as exc:
        sys.stderr.write(f"nadg: error: {exc.message}\n")
        sys.exit(exit_code_for(exc))


__all__ = ["app", "main"]
