"""Retention of the KYC access log (kyc/retention.py): refused-access rows go after a year;
decrypt/share/erase rows are record keeping and stay, and the database refuses to delete them
or to edit any row, whoever asks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from kyc.models import KycAccessLog
from kyc.retention import kyc_denied_access_purge

ACTIONS = ("denied", "decrypt", "share", "erase")


def logged(record, action: str, *, ago: timedelta, monkeypatch) -> int:
    """An access-log row written `ago` in the past (its `at` is set on insert, never after)."""
    moment = timezone.now() - ago
    with monkeypatch.context() as patch:
        patch.setattr(timezone, "now", lambda: moment)
        row = KycAccessLog.objects.create(
            record=record, action=action, actor="institution:PARTNER-MY", purpose="investigation"
        )
    return row.pk


@pytest.mark.django_db
def test_denied_rows_go_after_a_year_and_every_other_row_stays(sender, monkeypatch, settings):
    assert settings.KYC_DENIED_ACCESS_RETENTION_DAYS == 365
    old = {a: logged(sender, a, ago=timedelta(days=400), monkeypatch=monkeypatch) for a in ACTIONS}
    recent = {
        a: logged(sender, a, ago=timedelta(days=300), monkeypatch=monkeypatch) for a in ACTIONS
    }
    ancient_decrypt = logged(
        sender, "decrypt", ago=timedelta(days=6 * 365), monkeypatch=monkeypatch
    )

    assert kyc_denied_access_purge() == 1

    remaining = set(KycAccessLog.objects.values_list("pk", flat=True))
    assert old["denied"] not in remaining
    assert {old["decrypt"], old["share"], old["erase"], ancient_decrypt} <= remaining
    assert set(recent.values()) <= remaining
    assert kyc_denied_access_purge() == 0


@pytest.mark.django_db
def test_the_database_deletes_only_denied_rows_and_edits_none(sender, monkeypatch):
    rows = {a: logged(sender, a, ago=timedelta(days=400), monkeypatch=monkeypatch) for a in ACTIONS}
    table = KycAccessLog._meta.db_table

    for action in ("decrypt", "share", "erase"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [rows[action]])
    for action in ACTIONS:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                f"UPDATE {table} SET action = 'denied', actor = 'x' WHERE id = %s",
                [rows[action]],
            )
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        KycAccessLog.objects.filter(pk__in=rows.values()).delete()  # all or nothing

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [rows["denied"]])
    remaining = set(KycAccessLog.objects.values_list("pk", flat=True))
    assert rows["denied"] not in remaining
    assert {rows["decrypt"], rows["share"], rows["erase"]} <= remaining
