"""Holding off CPython's cyclic garbage collector while a large structure that will all survive is built.

Decoding a poll of 10,000 alerts or computing a year-long report allocates hundreds of thousands of
containers that stay alive until the step is done and make next to no reference cycles: the collector
would walk all of them again and again and free nothing. Reference counting still frees everything else.
The collector is process-wide, so pauses wrap CPU-bound steps only, never a wait; pauses in several
threads nest, and the collector comes back on once the last ends, only if it was on before the first.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pauses:
    """How many ``collector_paused`` blocks are running, and whether the collector was on before the first."""

    lock = threading.Lock()
    running = 0
    resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off the cyclic collector for the block (see the module's docstring)."""
    with _Pauses.lock:
        if _Pauses.running == 0:
            _Pauses.resume = gc.isenabled()
            gc.disable()
        _Pauses.running += 1
    try:
        yield
    finally:
        with _Pauses.lock:
            _Pauses.running -= 1
            if _Pauses.running == 0 and _Pauses.resume:
                gc.enable()
