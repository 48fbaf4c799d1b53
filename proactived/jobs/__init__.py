"""Jobs: backups, updates and other scheduled tasks that check in; late, failed and overrun runs raise alerts.

``config`` holds the job models and the schedule maths, ``states`` the pure lifecycle, ``tables`` the rows,
``service`` the transactions, ``api`` the check-in endpoints and ``feature`` the wiring into the daemon.
"""
