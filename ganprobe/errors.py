"""User-facing errors: the CLI prints them as one line and exits with code 2."""


class GanprobeError(Exception):
    """A problem with the user's input (spec, file, value); the message names the input and fix."""


class DataError(GanprobeError):
    """Invalid or unreadable data."""


class ModelError(GanprobeError):
    """A generator or density model that cannot be loaded or breaks the protocol."""


class StoreError(GanprobeError):
    """A run directory that cannot be used (e.g. it holds a run with another config)."""
