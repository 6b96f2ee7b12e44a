"""`python -m churnlight` is the `churnlight` command."""

from churnlight.cli import app

app()
