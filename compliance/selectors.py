"""What the staff dashboard (the admin index) shows: reads only, each a few queries."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min
from django.db.models.functions import TruncHour
from django.utils import timezone

from compliance.models import Alert, AlertStatus, AuditEvent, Proposal, ProposalStatus
from core.money import Money

STATUS_COLOURS = {
    "submitted": "#417690",
    "accepted": "#79aec8",
    "credited": "#2e7d32",
    "settled": "#1b5e20",
    "held": "#e65100",
    "rejected": "#b71c1c",
    "expired": "#757575",
    "refunded": "#9e9e9e",
    "failed": "#4a148c",
}
CHART_W, CHART_H, HOURS = 720, 160, 24


def _age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "—"
    seconds = int((now - since).total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def orders_chart(*, now: datetime) -> dict[str, Any]:
    """Orders per hour over the last 24 hours, stacked by status, as SVG rectangles."""
    from remittance.models import RemittanceOrder

    start = (now - timedelta(hours=HOURS - 1)).replace(minute=0, second=0, microsecond=0)
    rows = (
        RemittanceOrder.objects.filter(created_at__gte=start)
        .annotate(hour=TruncHour("created_at"))
        .values("hour", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_hour: dict[int, dict[str, int]] = defaultdict(dict)
    for row in rows:
        slot = int((row["hour"] - start).total_seconds() // 3600)
        if 0 <= slot < HOURS:
            by_hour[slot][row["status"]] = row["n"]
    peak = max((sum(v.values()) for v in by_hour.values()), default=0) or 1
    bar_w = CHART_W // HOURS
    bars = []
    for slot in range(HOURS):
        y = CHART_H
        for status, n in sorted(by_hour.get(slot, {}).items()):
            h = max(1, round(n * (CHART_H - 20) / peak))
            y -= h
            bars.append(
                {
                    "x": slot * bar_w + 2,
                    "y": y,
                    "w": bar_w - 4,
                    "h": h,
                    "fill": STATUS_COLOURS.get(status, "#000"),
                    "title": f"{(start + timedelta(hours=slot)):%H:00} {status}: {n}",
                }
            )
    labels = [
        {"x": slot * bar_w + bar_w // 2, "text": f"{(start + timedelta(hours=slot)):%H}"}
        for slot in range(0, HOURS, 3)
    ]
    by_corridor = list(
        RemittanceOrder.objects.filter(created_at__gte=start)
        .values("quote__corridor__code", "status")
        .annotate(n=Count("pk"))
        .order_by("quote__corridor__code", "status")
    )
    return {
        "bars": bars,
        "labels": labels,
        "peak": peak,
        "width": CHART_W,
        "height": CHART_H + 16,
        "legend": [(s, c) for s, c in STATUS_COLOURS.items()],
        "by_corridor": by_corridor,
        "total": sum(sum(v.values()) for v in by_hour.values()),
    }


def queues(*, now: datetime) -> list[dict[str, Any]]:
    """Alerts, held orders and proposals waiting, with the age of the oldest."""
    from remittance.models import OrderStatus, RemittanceOrder

    alerts = Alert.objects.filter(status=AlertStatus.OPEN).aggregate(
        n=Count("pk"), oldest=Min("created_at")
    )
    held = RemittanceOrder.objects.filter(status=OrderStatus.HELD).aggregate(
        n=Count("pk"), oldest=Min("created_at")
    )
    proposals = Proposal.objects.filter(
        status=ProposalStatus.PENDING, expires_at__gt=now
    ).aggregate(n=Count("pk"), oldest=Min("proposed_at"))
    return [
        {
            "label": "Open alerts",
            "n": alerts["n"],
            "age": _age(alerts["oldest"], now),
            "url": "admin:compliance_alert_changelist",
            "query": "?status__exact=open",
        },
        {
            "label": "Held orders",
            "n": held["n"],
            "age": _age(held["oldest"], now),
            "url": "admin:remittance_remittanceorder_changelist",
            "query": "?status__exact=held",
        },
        {
            "label": "Proposals awaiting approval",
            "n": proposals["n"],
            "age": _age(proposals["oldest"], now),
            "url": "admin:compliance_proposal_changelist",
            "query": "?status__exact=pending",
        },
    ]


def liquidity(*, now: datetime) -> list[dict[str, Any]]:
    from settlement.models import LiquidityLimit
    from settlement.services.liquidity import liquidity_used_minor

    rows = []
    for limit in LiquidityLimit.objects.select_related("institution").order_by("institution__code"):
        used = liquidity_used_minor(institution=limit.institution, currency=limit.currency)
        percent = min(100, used * 100 // max(1, limit.amount_minor))
        rows.append(
            {
                "institution": limit.institution.code,
                "used": Money.from_minor(used, limit.currency),
                "limit": Money.from_minor(limit.amount_minor, limit.currency),
                "percent": percent,
                "warn": percent >= limit.alert_percent,
            }
        )
    return rows


def windows(*, now: datetime) -> list[dict[str, Any]]:
    from settlement.models import SettlementWindow, WindowStatus

    rows = []
    for w in (
        SettlementWindow.objects.filter(
            status__in=[WindowStatus.OPEN, WindowStatus.CLOSING, WindowStatus.CLOSED]
        )
        .select_related("corridor")
        .order_by("corridor__code", "number")
    ):
        rows.append(
            {
                "window": str(w),
                "status": w.get_status_display(),
                "orders": w.order_count,
                "sent": Money.from_minor(w.send_minor, w.send_currency),
                "age": _age(w.opened_at, now),
            }
        )
    return rows


def webhooks(*, now: datetime) -> dict[str, Any]:
    from webhooks.models import WebhookDelivery

    since = now - timedelta(hours=24)
    counts = dict(
        WebhookDelivery.objects.filter(created_at__gte=since)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    waiting = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).aggregate(
        n=Count("pk"), oldest=Min("created_at")
    )
    total = sum(counts.values())
    delivered = counts.get("delivered", 0)
    return {
        "counts": sorted(counts.items()),
        "total": total,
        "success": f"{100 * delivered / total:.1f}%" if total else "—",
        "pending": waiting["n"],
        "oldest": _age(waiting["oldest"], now),
    }


def ledger(*, now: datetime) -> dict[str, Any]:
    from ledger.models import Checkpoint, Witness

    checkpoint = Checkpoint.objects.order_by("-tree_size").first()
    verified = AuditEvent.objects.filter(action="ledger.verified").order_by("-at", "-pk").first()
    return {
        "size": checkpoint.tree_size if checkpoint else 0,
        "age": _age(checkpoint.created_at if checkpoint else None, now),
        "cosignatures": checkpoint.cosignatures.count() if checkpoint else 0,
        "witnesses": [
            {
                "institution": w.institution.code,
                "size": w.last_checkpoint.tree_size if w.last_checkpoint else 0,
            }
            for w in Witness.objects.select_related("institution", "last_checkpoint")
        ],
        "verified": verified,
        "verified_age": _age(verified.at if verified else None, now),
    }


SECTIONS = {
    # section: (permission needed to see it, reader)
    "chart": ("remittance.view_remittanceorder", orders_chart),
    "queues": ("remittance.view_remittanceorder", queues),
    "liquidity": ("settlement.view_liquiditylimit", liquidity),
    "windows": ("settlement.view_settlementwindow", windows),
    "webhooks": ("webhooks.view_webhookdelivery", webhooks),
    "ledger": ("ledger.view_checkpoint", ledger),
}


def dashboard(*, user: Any) -> dict[str, Any]:
    """The sections `user` may see (each needs the view permission of what it shows)."""
    now = timezone.now()
    shown: dict[str, Any] = {"now": now}
    for name, (perm, reader) in SECTIONS.items():
        if user.has_perm(perm):
            shown[name] = reader(now=now)
    return shown
