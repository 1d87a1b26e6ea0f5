"""Errors stackyard reports to the operator.

Every error carries a message that says what is wrong, where (file, key or line) and what would
be valid; the CLI prints it and exits non-zero without a traceback.
"""

from __future__ import annotations


class StackyardError(Exception):
    """Base class: an error with a message meant for the operator."""


class ConfigError(StackyardError):
    """Bad input: a file, key, option or argument that cannot be used as given."""


class EngineError(StackyardError):
    """The container engine is missing, not running, or refused a request."""


class HostError(StackyardError):
    """The host cannot be prepared (wrong OS, package install or daemon start failed)."""


class TemplateError(ConfigError):
    """A Dockerfile template does not render; the message names file and line."""


class MirrorError(StackyardError):
    """The Debian mirror cannot be reached."""
