"""Read-only views of the log for the operator and compliance staff. Nothing here can change
history: the tables are append-only in the database too."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from institutions.admin_base import ReadOnlyAdmin
from ledger.models import Checkpoint, Cosignature, Entry, QueuedStatement, Witness
from ledger.selectors.log import checkpoint_latest
from ledger.selectors.witnesses import witness_lag


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("seq", "kind", "signer", "key_id", "subject", "integrated_at")
    list_filter = ("kind", "signer")
    search_fields = ("=seq", "subject", "kind")
    readonly_fields = ("seq", "kind", "signer", "key_id", "subject", "integrated_at", "leaf_pretty")
    exclude = ("leaf",)
    show_full_result_count = False

    @admin.display(description="entry (canonical leaf, pretty-printed)")
    def leaf_pretty(self, obj: Entry) -> str:
        return format_html("<pre>{}</pre>", json.dumps(json.loads(bytes(obj.leaf)), indent=2))


@admin.register(QueuedStatement)
class QueuedStatementAdmin(ReadOnlyAdmin):
    list_display = ("pk", "kind", "signer", "subject", "queued_at")


class CosignatureInline(admin.TabularInline):
    model = Cosignature
    fields = ("institution", "key_id", "timestamp", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ("tree_size", "key_id", "created_at", "witnesses")
    readonly_fields = ("tree_size", "key_id", "created_at", "note_text")
    exclude = ("root_hash", "body", "signature_line")
    inlines = [CosignatureInline]

    @admin.display(description="witness cosignatures")
    def witnesses(self, obj: Checkpoint) -> int:
        return obj.cosignatures.count()

    @admin.display(description="signed note")
    def note_text(self, obj: Checkpoint) -> str:
        return format_html("<pre>{}</pre>", obj.note)


@admin.register(Witness)
class WitnessAdmin(ReadOnlyAdmin):
    """Each partner bank's witness: the latest checkpoint it cosigned and how far behind the
    log it is. A lag over LEDGER_WITNESS_LAG_ALERT_SECONDS shows as an alert (beat checks
    every 30 s); settlement of a window waits for every party's cosignature."""

    list_display = (
        "institution",
        "last_cosigned_size",
        "lag_entries",
        "lag_seconds",
        "last_cosigned_at",
        "alert",
    )
    readonly_fields = (
        "institution",
        "last_cosigned_size",
        "last_cosigned_at",
        "lag_entries",
        "lag_seconds",
        "alert",
        "created_at",
    )
    exclude = ("last_checkpoint", "lag_alert_since")

    list_select_related = ("institution",)

    @staticmethod
    def _lag(obj: Witness) -> tuple[int, float]:
        # a few witnesses, two small indexed reads each
        return witness_lag(obj, latest=checkpoint_latest(), now=timezone.now())

    @admin.display(description="lag (entries)")
    def lag_entries(self, obj: Witness) -> int:
        return self._lag(obj)[0]

    @admin.display(description="lag (seconds)")
    def lag_seconds(self, obj: Witness) -> str:
        return f"{self._lag(obj)[1]:.0f}"

    @admin.display(description="lag alert")
    def alert(self, obj: Witness) -> str:
        if obj.lag_alert_since is None:
            return "—"
        return format_html(
            '<strong style="color:#b00">lagging since {}</strong>',
            obj.lag_alert_since.strftime("%Y-%m-%d %H:%M:%S UTC"),
        )


from ledger import admin_money  # noqa: E402, F401  (registers Account and Transfer)
