"""`recapp conformance images`: the static image checks, as one pytest session."""

from __future__ import annotations

from typing import Annotated

import typer

from recapp.conformance.session import run_suite
from recapp.errors import RecappError

conformance = typer.Typer(help="Run the conformance suite against REC and APP images.", no_args_is_help=True)


@conformance.command("images")
def images(
    rec_image: Annotated[str | None, typer.Option(help="REC image to check")] = None,
    app_image: Annotated[str | None, typer.Option(help="APP image to check")] = None,
    junit: Annotated[str | None, typer.Option(help="write JUnit XML here")] = None,
) -> None:
    """Static checks of a REC and/or an APP image (pytest + testinfra)."""
    if not rec_image and not app_image:
        raise RecappError("give --rec-image and/or --app-image")
    code = run_suite("images", rec_image=rec_image, app_image=app_image, junit=junit)
    raise typer.Exit(code)
