"""proactived: turns monitoring alerts into service-desk tickets before users call."""

__version__ = "0.1.0"
