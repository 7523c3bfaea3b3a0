"""Read-only views of the log for the operator and compliance staff. Nothing here can change
history: the tables are append-only in the database too."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from institutions.admin_base import ReadOnlyAdmin
from ledger.models import Checkpoint, Cosignature, Entry, QueuedStatement


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


from ledger import admin_money  # noqa: E402, F401  (registers Account and Transfer)
