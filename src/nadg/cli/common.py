"""What every command shares: the Typer app, settings with `--db`, logging, exit codes."""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any

import typer

from nadg import __version__
from nadg.config import Settings
from nadg.errors import InvalidInput, NadgError, NotFound, PlanError

app = typer.Typer(
    name="nadg",
    help="NADG: split one big task into many and run them on a fleet of cheap workers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Registry database URL (default: NADG_DATABASE_URL or ~/.nadg)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]

EXIT_FAILED = 1
EXIT_USAGE = 2


def exit_code_for(exc: NadgError) -> int:
    """Bad input is a usage error (2); anything else that went wrong is a failure (1)."""
    return EXIT_USAGE if isinstance(exc, InvalidInput | NotFound | PlanError) else EXIT_FAILED


def load_settings(db: str | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, with the command's options on top."""
    values = {key: value for key, value in overrides.items() if value is not None}
    if db:
        values["database_url"] = db
    return Settings.load(**values)


def configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"nadg {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="More logging on stderr (-vv: debug)."),
    ] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    configure_logging(verbose)


def fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    """Print one clear line on stderr and return the Exit to raise."""
    sys.stderr.write(f"nadg: error: {message}\n")
    return typer.Exit(code)


__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "DbOption",
    "JsonOption",
    "NadgError",
    "app",
    "configure_logging",
    "exit_code_for",
    "fail",
    "load_settings",
]
