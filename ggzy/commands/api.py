"""`ggzy api`: the hub API (FastAPI on uvicorn)."""

from __future__ import annotations

import typer

from ggzy.settings import get_settings

app = typer.Typer(help="The hub API (FastAPI): serve it.", no_args_is_help=True)


@app.command()
def serve(
    host: str | None = typer.Option(None, "--host", help="Bind address (default GGZY_API_HOST)."),
    port: int | None = typer.Option(None, "--port", help="Port (default GGZY_API_PORT)."),
) -> None:
    """Serve the API until Ctrl-C; docs at /docs."""
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    uvicorn.run(
        create_app(settings), host=host or settings.api_host, port=port or settings.api_port, log_level="info"
    )
