"""The long-running process: wires the runtime, serves HTTP, runs the scheduler, handles signals."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from waitress import wasyncore
from waitress.server import create_server

from proactived import telemetry
from proactived.clock import Clock, SystemClock
from proactived.config.load import load_config
from proactived.config.models import Config
from proactived.config.secrets import redact
from proactived.errors import ConfigError, StoreError
from proactived.features import install_all
from proactived.http.wsgi import WsgiApp
from proactived.runtime import Runtime
from proactived.sdnotify import Heartbeat, Notifier
from proactived.store import Store

SHUTDOWN_GRACE = 5.0
EXIT_STORE_UNREACHABLE = 3
EXIT_CANNOT_LISTEN = 5
# glibc gives each thread that meets contention its own malloc arena (up to 8 per core), and each keeps the
# freed request bodies of its thread: with 8 HTTP workers that was ~12 MiB of RSS after a load. Two arenas
# hold the same work (the GIL serialises most of it anyway). An operator's MALLOC_ARENA_MAX wins.
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's mallopt() parameter number


def limit_malloc_arenas(libc: Any = None, environ: Mapping[str, str] = os.environ) -> bool:
    """Cap glibc's malloc arenas before any thread starts; False where that is not glibc or the operator chose."""
    if "MALLOC_ARENA_MAX" in environ:
        return False
    try:
        mallopt = (libc or ctypes.CDLL(None)).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, MALLOC_ARENAS))


def build_runtime(
    config: Config, config_path: Path, clock: Clock | None = None, *, migrate_apart: bool = False
) -> Runtime:
    """Open (and migrate) the store and install every feature.

    With ``migrate_apart`` pending migrations run in a ``proactived db upgrade`` child: Alembic costs ~8 MiB
    that would otherwise stay resident in the long-running process. The in-process upgrade then only
    confirms the heads (and still migrates if the child left anything pending).
    """
    store = Store(config.store_url(), sqlite_synchronous=config.store.sqlite_synchronous)
    if migrate_apart and not store.at_heads():
        migrate_in_child(config_path)
    store.upgrade()
    rt = Runtime(config=config, config_path=config_path, store=store, clock=clock or SystemClock())
    install_all(rt)
    return rt


def migrate_in_child(config_path: Path) -> None:
    """Run ``proactived db upgrade`` on the same config; StoreError with its last words when it fails."""
    cmd = [sys.executable, "-m", "proactived", "db", "upgrade", "--config", str(config_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise StoreError(f"schema migration failed: {redact(lines[-1])}")


class Daemon:
    """Owns the threads of one daemon process and its orderly stop."""

    def __init__(self, rt: Runtime, notifier: Notifier | None = None) -> None:
        self.rt = rt
        self.notifier = notifier or Notifier.from_environ()
        self.heartbeat = Heartbeat(self.notifier, self.healthy)
        cfg = rt.config.server
        app = WsgiApp(
            rt.router, lambda: rt.config.server.max_body_bytes, rt.authorised, lambda: rt.config.server.protect_reads
        )
        self.server = create_server(
            app,
            host=cfg.host,
            port=cfg.port,
            threads=cfg.threads,
            ident="proactived",
            clear_untrusted_proxy_headers=True,
        )
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._wakeup = threading.Event()
        self._http_stopping = threading.Event()
        self._http_thread = threading.Thread(target=self._serve_http, name="http", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.server.effective_host}:{self.server.effective_port}"  # type: ignore[union-attr]

    def start(self) -> None:
        self._http_thread.start()
        self.rt.dispatcher.start()
        self.rt.scheduler.start()
        telemetry.event(
            "daemon_started", listen=self.address, store=self.rt.store.dialect, state_dir=self.rt.config.state_dir
        )
        if self.rt.config.server.auth_token is None:
            telemetry.event(
                "write_endpoints_unauthenticated",
                logging.WARNING,
                hint="set server.auth_token to require a bearer token",
            )
        self.notifier.ready(status=f"listening on {self.address}")

    def request_stop(self) -> None:
        self._stop.set()
        self._wakeup.set()

    def request_reload(self) -> None:
        self._reload.set()
        self._wakeup.set()

    def serve_forever(self) -> None:
        """Block until a stop is requested, reloading whenever asked."""
        while not self._stop.is_set():
            self._wakeup.wait(self.heartbeat.tick_seconds)
            self._wakeup.clear()
            if self._reload.is_set():
                self._reload.clear()
                self.notifier.reloading()
                ok = self.reload()
                self.notifier.ready(status="" if ok else "config reload rejected; running the previous config")
            self.heartbeat.tick()

    def healthy(self) -> bool:
        """What the watchdog vouches for: the HTTP server thread is alive and the store answers."""
        return self._http_thread.is_alive() and self.rt.store.ping()

    def reload(self) -> bool:
        """Validate the config file again; keep the running one if the new one is broken."""
        try:
            config = load_config(self.rt.config_path)
        except ConfigError as exc:
            for problem in exc.problems:
                telemetry.event("config_error", logging.ERROR, problem=problem)
            telemetry.config_reloaded(False, len(exc.problems))
            return False
        self.rt.apply_config(config)
        logging.getLogger("proactived").setLevel(config.log.level.upper())
        telemetry.config_reloaded(True)
        return True

    def _serve_http(self) -> None:
        """The server's own loop, one poll at a time, so a stop is seen even if its wake-up pipe is gone."""
        server = self.server
        channels = server._map  # type: ignore[union-attr]
        adj = server.adj
        while channels and not self._http_stopping.is_set():
            wasyncore.loop(timeout=adj.asyncore_loop_timeout, map=channels, use_poll=adj.asyncore_use_poll, count=1)
        # Closing the sockets here, in the loop's own thread, cannot race its select().
        for channel in list(channels.values()):
            channel.close()

    def shutdown(self) -> None:
        """Stop taking requests, let in-flight batches finish, stop stages and scheduler, close the store."""
        self.notifier.stopping()
        telemetry.event("daemon_stopping")
        self.server.accepting = False  # type: ignore[union-attr]
        self.server.task_dispatcher.shutdown(cancel_pending=False, timeout=int(SHUTDOWN_GRACE))
        self._http_stopping.set()
        # If the wake-up pipe is already closed, the loop still sees the stop within one poll timeout.
        with contextlib.suppress(OSError):
            self.server.pull_trigger()  # type: ignore[union-attr]
        self._http_thread.join(SHUTDOWN_GRACE)
        for hook in self.rt.stop_hooks:
            try:
                hook(SHUTDOWN_GRACE)
            except Exception as exc:  # a failing hook must not keep the rest from stopping
                telemetry.loop_error("shutdown", exc)
        self.rt.scheduler.shutdown(wait=True)
        self.rt.dispatcher.stop(SHUTDOWN_GRACE)
        self.rt.store.close()
        telemetry.event("daemon_stopped")


def run(config_path: Path) -> int:
    """``proactived run``: returns the process exit code."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print("\n".join(exc.problems))
        return 1
    telemetry.setup_logging(config.log.level, config.log.format)
    telemetry.event("config_loaded", path=str(config_path))
    limit_malloc_arenas()
    try:
        daemon = Daemon(build_runtime(config, config_path, migrate_apart=True))
    except ConfigError as exc:  # features validate their own files (e.g. rules.d) while installing
        print("\n".join(exc.problems))
        return 1
    except (StoreError, SQLAlchemyError) as exc:
        reason = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
        telemetry.event("store_unreachable", logging.CRITICAL, error=" ".join(reason.split()))
        return EXIT_STORE_UNREACHABLE
    except OSError as exc:
        telemetry.event("cannot_listen", logging.CRITICAL, listen=config.server.listen, error=exc.strerror)
        return EXIT_CANNOT_LISTEN

    def on_stop(signum: int, _frame: FrameType | None) -> None:
        telemetry.event("signal", signal=signal.Signals(signum).name)
        daemon.request_stop()

    def on_hup(_signum: int, _frame: FrameType | None) -> None:
        daemon.request_reload()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    daemon.start()
    try:
        daemon.serve_forever()
    finally:
        daemon.shutdown()
    return 0
