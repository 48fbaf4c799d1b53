"""The exception tree every proactived module raises from.

ProactivedError
 ├── ConfigError            bad configuration or rule files (carries every problem found)
 ├── InputError             a pushed or polled payload that cannot be understood (names the field)
 ├── StoreError             the state store could not persist or read; the caller must not ack
 └── TransportError         an outgoing call failed; ``permanent`` says whether a retry can help
"""

from __future__ import annotations

from collections.abc import Sequence


class ProactivedError(Exception):
    """Base of every error proactived raises on purpose."""


class ConfigError(ProactivedError):
    """Configuration is invalid; ``problems`` holds one ``file:line:col: path: message`` per error."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class InputError(ProactivedError):
    """An incoming payload is malformed; ``field`` locates the offending value."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class StoreError(ProactivedError):
    """The store could not complete an operation; nothing of it was committed."""


class TransportError(ProactivedError):
    """An outgoing call failed; a retry may help unless ``permanent`` is true."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        self.permanent = permanent
        self.retry_after = retry_after
        super().__init__(message)
