"""The one chokepoint for outgoing HTTP: sessions with a user agent, mandatory timeouts, retries, redaction.

Sources and sinks never call ``requests`` directly; they call ``HttpClient.request`` and get either a
response with a 2xx/3xx status or a ``TransportError`` saying whether retrying can help.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proactived import __version__
from proactived.config.secrets import redact
from proactived.errors import TransportError

if TYPE_CHECKING:
    import requests

USER_AGENT = f"proactived/{__version__}"
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to wait between attempts inside one call (sinks retry further via the outbox)."""

    attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 10.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        return min(self.backoff * 2.0**attempt, self.max_backoff)


def retry_after_seconds(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (HTTP dates are treated as absent)."""
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class HttpClient:
    """A pooled session with defaults every integration shares."""

    def __init__(
        self,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        verify: bool | str = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        # Imported here, not at the top: requests and its encoding detection cost ~4.5 MiB of RSS, paid only
        # by a process that has a source, a desk or a daemon to call.
        import requests

        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers.update(headers or {})
        self.session.auth = auth
        self.session.verify = verify
        self._sleep = sleep

    def request(self, method: str, url: str, *, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        """Send with retries on connection errors, timeouts, 429 and 5xx; raise TransportError when done trying.

        A 4xx other than 408/425/429 is permanent: retrying the same request cannot help.
        """
        import requests  # already loaded by __init__

        last: TransportError | None = None
        for attempt in range(self.retry.attempts):
            if attempt and last is not None:
                self._sleep(self.retry.delay(attempt - 1, last.retry_after))
            try:
                response = self.session.request(method, url, timeout=timeout or self.timeout, **kwargs)
            except requests.Timeout:
                last = TransportError(f"{method} {_safe(url)}: timed out after {timeout or self.timeout}s")
                continue
            except requests.RequestException as exc:
                last = TransportError(f"{method} {_safe(url)}: {type(exc).__name__}: {_safe(str(exc))[:300]}")
                continue
            if response.status_code < 400:
                return response
            last = _status_error(method, url, response)
            if last.permanent:
                raise last
        assert last is not None
        raise last

    def close(self) -> None:
        self.session.close()


def _status_error(method: str, url: str, response: requests.Response) -> TransportError:
    permanent = response.status_code not in RETRYABLE_STATUS
    body = _safe(response.text[:500].strip())
    return TransportError(
        f"{method} {_safe(url)}: HTTP {response.status_code}: {body}",
        permanent=permanent,
        retry_after=retry_after_seconds(response),
    )


def _safe(text: str) -> str:
    """Blank configured secrets and userinfo in URLs before text reaches an error or a log."""
    text = redact(text)
    if "://" in text and "@" in text.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = text.split("://", 1)
        text = scheme + "://****@" + rest.split("@", 1)[1]
    return text
