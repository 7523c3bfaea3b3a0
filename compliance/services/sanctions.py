"""Re-screening every customer record and open order against a newly loaded list version,
in Celery, set-based: records in chunks (one decryption per record, one query of hits per
chunk), progress on the run row, new hits into the alerts queue."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from compliance.models import Alert, RescreenRun
from core.db import objs_insert
from kyc.crypto import new_ref
from kyc.models import KycRecord, ScreeningHit
from remittance.models import OrderStatus, RemittanceOrder

OPEN_ORDER = (OrderStatus.HELD, OrderStatus.SUBMITTED, OrderStatus.ACCEPTED)


def rescreen_start(*, list_import_id: int) -> RescreenRun:
    """Queue a run (the task starts after commit)."""
    from core.tasks import task_request_on_commit

    run = RescreenRun.objects.create(
        list_import_id=list_import_id,
        total=KycRecord.objects.filter(erased_at__isnull=True).count(),
    )
    task_request_on_commit("compliance.tasks.rescreen", run.pk)
    return run


def rescreen_execute(*, run_id: int, chunk_size: int = 500) -> RescreenRun:
    """Screen every record not erased, in pk order, one transaction per chunk (so a crash
    resumes where it stopped: `done` counts the records screened)."""
    from kyc.services import screening_check_records

    run = RescreenRun.objects.get(pk=run_id)
    if run.status == RescreenRun.Status.DONE:
        return run
    RescreenRun.objects.filter(pk=run.pk).update(status=RescreenRun.Status.RUNNING)
    last_pk = 0
    done = 0
    while True:
        with transaction.atomic():
            records = list(
                KycRecord.objects.select_related("owner")
                .filter(erased_at__isnull=True, pk__gt=last_pk)
                .order_by("pk")[:chunk_size]
            )
            if not records:
                break
            before = set(
                ScreeningHit.objects.filter(record__in=records).values_list("pk", flat=True)
            )
            results = screening_check_records(records=records, order_ref="")
            new_hits = [
                hit
                for result in results.values()
                for hit in result.hits
                if hit.pk not in before and hit.status == ScreeningHit.Decision.OPEN
            ]
            alerts = _alerts_for(new_hits)
            if alerts:
                objs_insert(alerts)
            done += len(records)
            last_pk = records[-1].pk
            RescreenRun.objects.filter(pk=run.pk).update(
                done=done,
                hits=run.hits + len(new_hits),
                alerts=run.alerts + len(alerts),
            )
            run.hits += len(new_hits)
            run.alerts += len(alerts)
    RescreenRun.objects.filter(pk=run.pk).update(
        status=RescreenRun.Status.DONE, finished_at=timezone.now(), done=done
    )
    run.refresh_from_db()
    return run


def _alerts_for(hits: list[ScreeningHit]) -> list[Alert]:
    """One alert per new hit on a record, and one per open order of that record's party."""
    alerts: list[Alert] = []
    refs: dict[str, ScreeningHit] = {}
    for hit in hits:
        ref = hit.record.kyc_ref
        refs.setdefault(ref, hit)
        alerts.append(
            Alert(
                ref=new_ref("alr"),
                source=Alert.Source.SCREENING,
                action=Alert.Action.INTERDICT,
                kyc_ref=ref,
                typology="sanctions",
                score=int(hit.score),
                findings=[_finding(hit)],
            )
        )
    if refs:
        orders = RemittanceOrder.objects.filter(status__in=OPEN_ORDER).filter(
            sender_kyc_ref__in=list(refs)
        ) | RemittanceOrder.objects.filter(
            status__in=OPEN_ORDER, beneficiary_kyc_ref__in=list(refs)
        )
        for order in orders.order_by("pk"):
            ref = (
                order.sender_kyc_ref if order.sender_kyc_ref in refs else order.beneficiary_kyc_ref
            )
            alerts.append(
                Alert(
                    ref=new_ref("alr"),
                    source=Alert.Source.SCREENING,
                    action=Alert.Action.INTERDICT,
                    order_id=order.pk,
                    kyc_ref=ref,
                    typology="sanctions",
                    score=int(refs[ref].score),
                    amount_minor=order.send_minor,
                    currency=order.send_currency,
                    findings=[_finding(refs[ref])],
                )
            )
    return alerts


def _finding(hit: ScreeningHit) -> dict[str, object]:
    return {
        "rule": "sanctions-list",
        "version": hit.entry.list_import_id,
        "typology": "sanctions",
        "score": int(hit.score),
        "why": f"screening hit {hit.pk}: {hit.entry.source}:{hit.entry.reference} "
        f"(score {hit.score})",
    }
