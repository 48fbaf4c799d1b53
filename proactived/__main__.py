"""Entry point for ``python -m proactived``."""

from proactived.cli import main

raise SystemExit(main())
