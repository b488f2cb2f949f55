"""`dhr db`."""

from __future__ import annotations

import click

from ..bpmn import runtime
from ..platform.db import upgrade
from .app import App, cli, pass_app


@cli.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Create or migrate the database schema, then bring open cases stored in an older format up to date."""
    upgrade(app.engine)
    for reference in runtime.upgrade_cases(app.sessions, app.clock):
        click.echo(f"upgraded the stored state of {reference}")
    click.echo("database is up to date")
