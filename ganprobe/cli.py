"""The `ganprobe` command line: a typer app whose commands are thin calls into experiments/,
train/, data/ and models/. Errors in the user's input print one line and exit with code 2
(`--debug` shows the traceback)."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from .config import format_validation_error
from .errors import GanprobeError
from .progress import console

_STATE = {"debug": False}


class _ErrorHandlingGroup(TyperGroup):
    """Root command group: turns GanprobeError / ValidationError into one line + exit code 2."""

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (GanprobeError, ValidationError) as exc:
            if _STATE["debug"]:
                raise
            if isinstance(exc, ValidationError):
                message = format_validation_error(exc)
            else:
                message = " ".join(str(exc).split())
            console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_ErrorHandlingGroup,
    help="ganprobe: what has my generative model really learned?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _STATE["debug"] = debug


def main() -> None:
    """Console-script entry point."""
    app()


# --- section: data commands -------------------------------------------------------------------

# --- section: model commands ------------------------------------------------------------------

# --- section: train commands ------------------------------------------------------------------

# --- section: manifold commands (project, manifold, outliers, classify) -----------------------

# --- section: likelihood commands (likelihood, compare-density) -------------------------------

# --- section: density commands (train density) ------------------------------------------------

# --- section: typicality, report, demo --------------------------------------------------------


if __name__ == "__main__":
    main()
