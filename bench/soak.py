"""Soak: sustained pushes at 80 % of the ingest rate measured in the same run, for 2 minutes (``--seconds``),
against a real daemon process while an Alertmanager source is polled, tickets flow to a local Jira and
``proactived report`` runs. Prints the figures and whether each promise held:

    .venv/bin/python bench/soak.py [--seconds 120] [--measure 10] [--fraction 0.8]

Promises: no error response, the outbox drains, RSS at the end within 10 % of the middle of the run.
Exit status 1 if one did not hold (a soak is read by a person; it is not part of the test run).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.load import run_load  # after the sys.path line: the repository root must be importable


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="sustained phase length")
    parser.add_argument("--measure", type=float, default=10.0, help="full-speed measuring phase length")
    parser.add_argument("--fraction", type=float, default=0.8, help="share of the measured rate to sustain")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = run_load(Path(tmp), args.measure, args.seconds, args.fraction)
    print(figures.summary())
    checks = {
        "no error responses": not figures.errors,
        "outbox drained": figures.drained_after_s is not None,
        "RSS end within 10 % of middle": figures.rss_end <= figures.rss_middle * 1.10,
        "reports ran": figures.reports_ok == 2,
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
