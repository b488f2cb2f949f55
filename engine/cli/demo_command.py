"""`dhr demo`."""

from __future__ import annotations

import click

from ..platform.db import upgrade
from .app import App, cli, pass_app


@cli.command("demo")
@click.option("--force", is_flag=True, help="Add demo data even if the database already has cases.")
@pass_app
def demo_command(app: App, force: bool) -> None:
    """Set up the database with demo users, diagrams and cases at several stages."""
    from ..review.demo import seed

    upgrade(app.engine)
    for line in seed(app.sessions, app.settings, force=force):
        click.echo(line)
