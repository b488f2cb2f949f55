"""`dhr users`."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from ..platform import second_factor, sessions, users
from ..platform.db import unit_of_work
from ..platform.roles import Role
from .app import CLI_ACTOR, App, _json_out, _table, cli, pass_app


@cli.group("users")
def users_group() -> None:
    """People and their roles."""


@users_group.command("add")
@click.argument("username")
@click.option("--role", required=True, help="A lane of the diagrams (e.g. 'CSP Chair') or an office: "
              + ", ".join(Role) + ".")
@click.option("--agency", help="The agency the user works for.")
@click.option("--email", help="Where the user's notifications go.")
@click.option("--password-stdin", is_flag=True, help="Read the user's password from standard input.")
@pass_app
def users_add(app: App, username: str, role: str, agency: str | None, email: str | None,
              password_stdin: bool) -> None:
    """Add a user."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with unit_of_work(app.sessions) as session:
        user = users.add_user(session, username, role=role, agency=agency, password=password, actor=CLI_ACTOR,
                              clock=app.clock, email=email)
        click.echo(f"added {user.username} ({user.role})")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def users_list(app: App, as_json: bool) -> None:
    """List users."""
    from ..platform.models import User

    with app.sessions() as session:
        rows = [{"name": u.username, "role": u.role, "agency": u.agency, "email": u.email, "active": u.active}
                for u in session.scalars(select(User).order_by(User.username))]
    if as_json:
        _json_out(rows)
    else:
        _table(rows, ["name", "role", "agency", "email", "active"])


@users_group.command("sign-out")
@click.argument("name")
@pass_app
def users_sign_out(app: App, name: str) -> None:
    """End every web session of a user at once, on every device (audited)."""
    with unit_of_work(app.sessions) as session:
        user = users.find_user(session, name)
        count = sessions.sign_out_everywhere(session, user, actor=CLI_ACTOR, at=app.clock.now())
        click.echo(f"signed out {user.username} everywhere ({count} session{'' if count == 1 else 's'} ended)")


@users_group.command("reset-2fa")
@click.argument("name")
@pass_app
def users_reset_second_factor(app: App, name: str) -> None:
    """Reset a user's authenticator app and recovery codes (a lost phone); they are signed out (audited)."""
    with unit_of_work(app.sessions) as session:
        user = users.find_user(session, name)
        second_factor.reset(session, user, actor=CLI_ACTOR, at=app.clock.now())
        click.echo(f"reset the authenticator app of {user.username}; they set it up again at their next sign-in")


@users_group.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the new password from standard input.")
@pass_app
def users_set_password(app: App, name: str, password_stdin: bool) -> None:
    """Give a user a new password; every session they have ends (audited)."""
    password = sys.stdin.readline().rstrip("\n")
    with unit_of_work(app.sessions) as session:
        user = users.find_user(session, name)
        users.set_password(session, user, password, actor=CLI_ACTOR, at=app.clock.now())
        click.echo(f"set a new password for {user.username}; their sessions have ended")
