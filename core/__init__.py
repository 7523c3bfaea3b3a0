"""Cross-cutting pieces with no domain of their own, below every app (docs/architecture.md):

| module | what |
|---|---|
| `money.py` | `Money` (Decimal in a currency, never a float), the one amount grammar, ISO 4217 |
| `errors.py` | `DomainError` and the shared refusals every service raises |
| `problems.py` | RFC 9457 problem JSON for every API error (DRF exception handler, middleware) |
| `db.py` | bulk database helpers (`objs_insert`) |
| `retention.py` | batched deletes for retention jobs |
| `pii.py` | keys that only personal data would use (a guard on webhook payloads) |
| `events.py` | in-process hooks for the few places a lower app tells a higher one |

Nothing here imports an app of this project.
"""
