"""Real peers for the tests, started once per session; ``unavailable`` is the one rule for a missing peer."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(reason: str) -> NoReturn:
    """Skip with ``reason`` on a developer's machine; fail under CI, where every peer must run."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
