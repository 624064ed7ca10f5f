"""Command-line options shared by the long-running commands."""

from __future__ import annotations

import click

#: ``--data-dir``: the instance's state directory (also ``$BINDERY_DATA_DIR`` or
#: ``data_dir`` in the settings file, through the configuration loader).
DATA_DIR_OPTION = click.option(
    "--data-dir", "data_dir", default=None, type=click.Path(file_okay=False),
    help="State directory of this instance: database, cookie secret, logs, lock "
         "[default: $BINDERY_DATA_DIR, else the command's default].")

#: ``--log-format json``: one JSON object per log line, with the request id.
LOG_FORMAT_OPTION = click.option(
    "--log-format", "log_format", default=None, type=click.Choice(["text", "json"]),
    help="Log lines as text (default) or one JSON object each (with request ids).")
