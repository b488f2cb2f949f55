"""What every `dhr` command shares: the settings, database, clock, output and errors."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from importlib.metadata import EntryPoint
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from ..platform.clock import Clock, SettableClock, SimulatedClock, SystemClock
from ..platform.db import make_engine, session_factory
from ..platform.errors import EXIT_ERROR, DhrError, FormDataInvalid
from ..platform.exports import printable
from ..platform.settings import Settings

CLI_ACTOR = "cli"


@dataclass
class App:
    """What every command needs, built lazily from the settings."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    @cached_property
    def clock(self) -> Clock:
        if self.settings.clock == "simulated":  # read once: simulated time stands still during a command
            return SettableClock(SimulatedClock(self.engine).now())
        return SystemClock()


def _json_out(rows: Any) -> None:
    click.echo(json.dumps(rows, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _parse_json(text: str | None, what: str) -> Any:
    if text is None:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DhrError(f"{what} is not valid JSON: {exc.msg} at column {exc.colno}") from exc


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    cells = [[_cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    """A table cell on one line; what people typed cannot move the terminal's cursor."""
    if isinstance(value, datetime):
        return _when(value)
    return "-" if value is None else printable(str(value), one_line=True)


pass_app = click.make_pass_decorator(App)


class CliError(click.ClickException):
    """An error for the person at the terminal: one line per problem on stderr, and an exit status."""

    def __init__(self, lines: list[str] | str, exit_code: int = EXIT_ERROR) -> None:
        self.lines = [lines] if isinstance(lines, str) else lines
        super().__init__("\n".join(self.lines))
        self.exit_code = exit_code  # type: ignore[misc]  # click sets it per class; ours is per engine error

    def show(self, file: Any = None) -> None:
        for line in self.lines:
            click.echo(f"error: {line}", err=True)


def _field_label(field: str, command: click.Command | None) -> str:
    """How the command line names a field the engine named: its option (--to) or argument (NAME)."""
    for param in command.params if command is not None else []:
        if param.name == field:
            if isinstance(param, click.Option):
                return max(param.opts, key=len)
            return param.human_readable_name
    return field


def engine_error(exc: DhrError, command: click.Command | None = None) -> CliError:
    """The engine's error as the command line shows it: a field's problem by its option, one a line,
    with the exit status the error's class gives."""
    if isinstance(exc, FormDataInvalid):
        lines = [f"{_field_label(field, command)}: {message}" if field else message
                 for field, message in exc.errors.items()]
    else:
        lines = exc.message.splitlines() or [type(exc).__name__]
    return CliError(lines, exc.exit_code)


class DhrGroup(click.Group):
    """Turns the engine's errors into plain lines on stderr, never a traceback: the one place the
    command line maps them (its groups are DhrGroups too, so a field is named by its option)."""

    group_class = type  # the groups of this group are DhrGroups

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy: dict[str, EntryPoint] = {}

    def add_lazy_command(self, name: str, entry: EntryPoint) -> None:
        """Add a command another package registers, imported only when it runs or a listing shows it:
        the web app's commands import Flask, which took a third of the start of every other command."""
        self._lazy[name] = entry

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self._lazy.pop(cmd_name, None)
        if entry is not None:
            self.add_command(entry.load(), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                           list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:  # suggest the commands not imported yet too
            if not self._lazy:
                raise
            raise click.exceptions.NoSuchCommand(exc.command_name, possibilities=self.list_commands(ctx),
                                                 ctx=ctx) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DhrError as exc:
            name = ctx.invoked_subcommand
            raise engine_error(exc, self.get_command(ctx, name) if name else None) from exc
        except (OperationalError, ProgrammingError) as exc:
            if os.environ.get("DHR_DEBUG"):
                raise
            reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
            raise CliError(f"the database could not be used ({reason}); is DHR_DATABASE_URL right, "
                           "and has 'dhr db upgrade' been run?") from exc


@click.group(cls=DhrGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Domestic Homicide Review case management."""
    try:
        ctx.obj = App(Settings())
    except DhrError as exc:
        raise engine_error(exc) from exc
