"""Availability reports: per-service SLA figures computed from incident history, rendered and e-mailed.

Modules in flow order: ``config`` (services, reports, smtp sections) → ``periods`` (which span a report
covers) → ``inputs`` (what the store knows: incidents, planned downtime, job runs, acknowledgements) →
``intervals`` and ``compute`` (pure arithmetic) → ``render`` (Jinja2, CSV, JSON) → ``mail`` (SMTP) →
``ledger`` and ``schedule`` (what was sent; cron runs inside the daemon).
"""
