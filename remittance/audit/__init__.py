"""The invariant auditor (issue 16): one consistent read of orders, money, settlement windows
and the signed log that says whether anything was lost, duplicated or rewritten.

`invariants.py` holds the checks (reads only), `services.py` runs them and records an
`AuditRun`, `tasks.py` is the beat task, `management/commands/audit.py` the operator's command.
Its own sub-app (label `remittance_audit`) because it reads every lower app at once; nothing
below imports it."""
