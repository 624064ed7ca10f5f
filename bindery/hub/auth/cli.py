"""``bindery hub passwd NAME``: set a local user's password (the hub CLI adds this command)."""

from __future__ import annotations

import click

from bindery.errors import BinderyError
from bindery.hub.auth.password import DEFAULT_MIN_PASSWORD_LENGTH, PasswordOptions, set_password_cli


@click.command("passwd")
@click.argument("name")
@click.option("--db-url", default=None, help="Hub database URL (default: [hub] db_url from the settings).")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="BINDERY_NEW_PASSWORD",
    help="The new password (asked for when not given; or $BINDERY_NEW_PASSWORD for scripts).",
)
def passwd_command(name: str, db_url: str | None, password: str) -> None:
    """Set (or reset) the password of user NAME for the password authenticator."""
    min_length = DEFAULT_MIN_PASSWORD_LENGTH
    if db_url is None:
        from bindery.composition import load_settings

        settings = load_settings()
        db_url = settings.hub.db_url
        options = settings.hub.auth.options
        if isinstance(options, PasswordOptions):
            min_length = options.min_password_length
    try:
        set_password_cli(db_url, name, password, min_length=min_length)
    except BinderyError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Password set for {name.strip().lower()}.")
