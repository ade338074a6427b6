"""The exception hierarchy of mlmon_nb.

Every error a user can cause derives from :class:`MlmonError` and carries a
message that names what is wrong and where (file, key, column), what was
expected and what was found. The CLI prints that one line and exits with
:attr:`MlmonError.exit_code`.
"""

from __future__ import annotations


class MlmonError(Exception):
    """Root of every error mlmon_nb raises on purpose."""

    exit_code = 2


class ConfigError(MlmonError, ValueError):
    """The project file (mlmon.yaml) is missing, unparsable or invalid."""


class UsageError(MlmonError, ValueError):
    """A command-line argument or function argument is invalid."""


class DataError(MlmonError, ValueError):
    """Data files are missing, unreadable, empty or of the wrong shape."""


class ModelError(MlmonError, ValueError):
    """A model file is missing, unreadable, untrusted or cannot score."""


class ArchiveError(MlmonError, ValueError):
    """The archive is missing something or was written by an unknown schema."""

