"""`ggzy run` and `ggzy demo`: the whole hub, long-running or one-shot."""

from __future__ import annotations

import typer


def run_command() -> None:
    """Start everything on the embedded default and run every pipeline once (Ctrl-C stops)."""
    raise typer.Exit(1)


def demo_command(as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON.")) -> None:
    """One-shot end to end on the local stand-ins; prints the summary and exits."""
    raise typer.Exit(1)
