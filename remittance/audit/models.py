"""One row per audit run: what it checked, up to which log size, and every breach found."""

from __future__ import annotations

from django.db import models


class AuditRun(models.Model):
    """The result of `audit_run`. `log_size`/`log_frontier` are where the log was verified up
    to: the next run verifies only the entries after it (incremental). `breaches` is a list of
    `{"invariant", "detail", "ids"}`; empty when every invariant held."""

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    breaches = models.JSONField(default=list)
    counts = models.JSONField(default=dict, help_text="what was checked: orders, accounts, …")
    log_size = models.BigIntegerField(default=0, help_text="entries verified up to (exclusive)")
    log_frontier = models.BinaryField(default=b"", help_text="compact range at log_size")
    log_checked_from = models.BigIntegerField(default=0)
    trigger = models.CharField(max_length=16, default="beat", help_text="beat, command, test")

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        state = "clean" if self.ok else f"{len(self.breaches)} breach(es)"
        return f"audit {self.started_at:%Y-%m-%d %H:%M:%S}Z {state}"
