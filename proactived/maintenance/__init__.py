"""Maintenance windows: planned work that mutes the alerts it causes and is recorded as planned downtime.

``windows`` holds the config models and the pure "which window covers these labels now" logic, ``tables``
the rows (windows created at run time, planned downtime for reports), ``service`` the mute check and the
downtime bookkeeping, ``api`` the endpoints and ``feature`` the wiring into the daemon.
"""
