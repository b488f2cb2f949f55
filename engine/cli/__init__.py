"""The `dhr` command: one module per command group (database, processes, users, cases, tasks, messages,
timers, clock, audit, register and report, demo)."""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points

import click

from . import (  # noqa: F401  (each module adds its commands to `cli`)
    audit_commands,
    case_commands,
    clock_commands,
    database,
    demo_command,
    message_commands,
    process_commands,
    register_commands,
    task_commands,
    timer_commands,
    user_commands,
)
from .app import cli


def _add_plugin_commands() -> None:
    """Add the commands other packages register (entry point group `dhr.commands`), e.g. the web app's.

    This keeps the engine free of the web layer while `dhr` stays one command.
    """
    for entry in entry_points(group="dhr.commands"):
        cli.add_command(entry.load(), entry.name)


def main() -> None:
    """Run the CLI; a bug is reported in one line too, with details only on request."""
    try:
        _add_plugin_commands()
        cli.main(prog_name="dhr")
    except Exception as exc:
        if os.environ.get("DHR_DEBUG"):
            raise
        click.echo(f"error: unexpected {type(exc).__name__}; run again with DHR_DEBUG=1 for details", err=True)
        sys.exit(70)
