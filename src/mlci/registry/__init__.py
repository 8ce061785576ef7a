"""Registry promotion, rollback and the audit trail (`mlci promote|rollback|history`).

- `client`   the one way to MLflow: one retry policy, timeout and error vocabulary
- `audit`    the append-only event log in the registry, and its race-safe move chain
- `moves`    the move protocol (intent -> claim -> decide -> move -> confirm, with crash
             repair and delayed alias writes undone), shared by promote, rollback, canary
- `promote`  the promotion policy (gate verdict, approval, override, lineage)
- `rollback` move back to the previous holder recorded in the trail
- `history`  read the trail
- `faults`   a documented fault-injection hook for the crash tests

Nothing here is imported by `mlci --help`; `mlflow` is imported only when a command runs.
"""
