"""The systemd notification protocol (sd_notify) and the watchdog heartbeat; both are no-ops outside systemd.

systemd passes ``NOTIFY_SOCKET`` (a unix datagram socket path, or an abstract name written ``@name``) and,
with ``WatchdogSec=``, ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``). Each notification is one datagram of
newline-separated ``KEY=VALUE`` lines, e.g. ``READY=1`` or ``WATCHDOG=1``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

from proactived import telemetry


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, as systemd (>= 253) wants it next to ``RELOADING=1``."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Notifier:
    """Sends state notifications to the service manager; without ``NOTIFY_SOCKET`` every call does nothing."""

    def __init__(self, address: str | None, watchdog_usec: int = 0) -> None:
        self.address = "\0" + address[1:] if address and address.startswith("@") else address
        self.watchdog_usec = watchdog_usec
        self._warned = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """Read ``NOTIFY_SOCKET`` and the watchdog settings (ignored when meant for another process)."""
        env = os.environ if environ is None else environ
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        ours = not pid or pid == str(os.getpid())
        return cls(env.get("NOTIFY_SOCKET") or None, int(usec) if usec.isdigit() and ours else 0)

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between heartbeats: half the watchdog timeout, as systemd recommends; None without one."""
        if not self.enabled or self.watchdog_usec <= 0:
            return None
        return self.watchdog_usec / 2_000_000

    def send(self, *lines: str) -> bool:
        """Send one datagram; False (and one warning per process) when the socket cannot be reached."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(lines).encode(), self.address)
            return True
        except OSError as exc:
            if not self._warned:
                self._warned = True
                telemetry.event("sd_notify_failed", logging.WARNING, socket=self.address, error=str(exc))
            return False

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> bool:
        return self.send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")


class Heartbeat:
    """Pings the watchdog from the main loop, but only while ``healthy()`` says the process really works.

    A stuck main loop stops calling ``tick``; an unhealthy process stops passing the check; either way systemd
    stops hearing from us and restarts the service after ``WatchdogSec``.
    """

    def __init__(
        self,
        notifier: Notifier,
        healthy: Callable[[], bool],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.notifier = notifier
        self.interval = notifier.watchdog_interval
        self.healthy = healthy
        self.monotonic = monotonic
        self._last: float | None = None

    @property
    def tick_seconds(self) -> float:
        """How often the main loop should call ``tick`` (at least once a second)."""
        return min(1.0, self.interval) if self.interval else 1.0

    def tick(self) -> bool:
        """Ping when due and healthy; True when a ping was sent."""
        if self.interval is None:
            return False
        now = self.monotonic()
        if self._last is not None and now - self._last < self.interval:
            return False
        if not self.healthy():
            return False
        self._last = now
        return self.notifier.watchdog()
