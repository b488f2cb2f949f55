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
    """Add the commands other packages register (entry point group `dhr.commands`), e.g. the web app's,
    each imported only when it runs or `--help` lists it.

    This keeps the engine free of the web layer while `dhr` stays one command.
    """
    for entry in entry_points(group="dhr.commands"):
        cli.add_lazy_command(entry.name, entry)


def main() -> None:
    """Run the CLI: every error is one line on stderr and exit status 1 (a command's own status
    otherwise, as the README says); a bug is reported in one line too, with details only on request."""
    try:
        _add_plugin_commands()
        cli.main(prog_name="dhr", standalone_mode=False)
    except click.exceptions.Exit as done:  # --help, --version
        sys.exit(done.exit_code)
    except click.Abort:
        click.echo("error: stopped", err=True)
        sys.exit(1)
    except click.UsageError as exc:  # a mistyped command, option or value
        hint = f" (see 'dhr {exc.ctx.command_path.removeprefix('dhr').strip()} --help')".replace("dhr  --", "dhr --") \
            if exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OSError as exc:  # a file named on the command line that cannot be read or written
        where = f" {exc.filename}" if exc.filename else ""
        click.echo(f"error: cannot use{where}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("DHR_DEBUG"):
            raise
        click.echo(f"error: unexpected {type(exc).__name__}; run again with DHR_DEBUG=1 for details", err=True)
        sys.exit(70)
