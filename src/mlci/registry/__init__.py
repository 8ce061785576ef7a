"""Registry promotion, rollback and the audit trail (`mlci promote|rollback|history`).

- `client`   `MlflowClient` behind a bounded retry policy; errors become `ServiceError`
- `audit`    the append-only event log in the registry, and its race-safe move chain
- `promote`  the move protocol (intent -> claim -> decide -> move -> confirm, with crash
             repair) and the promotion policy (gate verdict, approval, override, lineage)
- `rollback` move back to the previous holder recorded in the trail
- `history`  read the trail
- `faults`   a documented fault-injection hook for the crash tests

Nothing here is imported by `mlci --help`; `mlflow` is imported only when a command runs.
"""
