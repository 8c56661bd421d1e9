"""Pydantic models for every command's settings.

Each command builds its settings object from CLI options; invalid values fail with a one-line
error (see `format_validation_error`). The settings object, dumped to JSON, is the run's config
and defines its hash (see store.py).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError


class Settings(BaseModel):
    """Base for all settings: unknown fields are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def format_validation_error(exc: ValidationError) -> str:
    """One line: 'invalid <field>: <reason> (got <value>)' for the first error, '+N more'."""
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or exc.title
    line = f"invalid {loc}: {first['msg']}"
    if "input" in first and not isinstance(first["input"], dict):
        line += f" (got {first['input']!r})"
    if len(errors) > 1:
        line += f" (+{len(errors) - 1} more)"
    return line


# --- section: data settings ------------------------------------------------------------------

# --- section: model / training settings ------------------------------------------------------

# --- section: projection / manifold settings -------------------------------------------------

# --- section: likelihood settings ------------------------------------------------------------

# --- section: density settings ---------------------------------------------------------------

# --- section: typicality / demo settings -----------------------------------------------------
