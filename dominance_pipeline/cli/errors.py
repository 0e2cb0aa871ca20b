"""Errors the CLI prints as one line (no traceback), because the user can fix them."""


class UserError(Exception):
    """A mistake the user can fix: a malformed month, a missing file, a bad option value."""
