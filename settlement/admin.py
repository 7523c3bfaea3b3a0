"""Operator admin for settlement: windows (close, rate, settle, instructions, report), liquidity
limits and alerts, the reconciliation break queue (assign, resolve with a reason, evidence side
by side) and statement upload. Every action calls a service; money rows are never edited here.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.errors import DomainError
from core.money import Money
from institutions.admin_base import ReadOnlyAdmin, staff_actor
from institutions.models import Institution
from settlement.models import (
    Break,
    BreakStatus,
    FxRate,
    LiquidityAlert,
    LiquidityLimit,
    SettlementWindow,
    StatementFormat,
    StatementImport,
    WindowStatus,
)
from settlement.services import instructions, reconciliation, statements, windows
from settlement.services.liquidity import liquidity_unconfigured_senders, liquidity_used_minor


@admin.register(FxRate)
class FxRateAdmin(ReadOnlyAdmin):
    list_display = ("base", "quote", "rate", "source", "as_of", "created_at")
    list_filter = ("base", "quote", "source")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # a rate is an observation: enter a new one, never change one


# --- windows --------------------------------------------------------------------------------


class SettleForm(forms.Form):
    settlement_rate = forms.DecimalField(max_digits=20, decimal_places=10, min_value=0)
    rate_source = forms.CharField(max_length=64, initial="manual")


@admin.register(SettlementWindow)
class SettlementWindowAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "status",
        "opened_at",
        "closed_at",
        "order_count",
        "send_total",
        "receive_total",
        "settlement_rate",
        "fx_pnl",
        "links",
    )
    list_filter = ("status", "corridor")
    actions = ("close_now",)
    readonly_fields = [f.name for f in SettlementWindow._meta.fields]

    @admin.display(description="sent")
    def send_total(self, obj: SettlementWindow) -> str:
        return str(Money.from_minor(obj.send_minor, obj.send_currency))

    @admin.display(description="paid out")
    def receive_total(self, obj: SettlementWindow) -> str:
        return str(Money.from_minor(obj.receive_minor, obj.receive_currency))

    @admin.display(description="FX P&L")
    def fx_pnl(self, obj: SettlementWindow) -> str:
        if obj.fx_pnl_minor is None:
            return ""
        return str(Money.from_minor(obj.fx_pnl_minor, obj.receive_currency))

    @admin.display(description="")
    def links(self, obj: SettlementWindow) -> str:
        if obj.is_current:
            return ""
        items = [("report", "report")]
        if obj.status == WindowStatus.CLOSED:
            items.append(("settle", "settle"))
        items += [("instructions_csv", "CSV"), ("instructions_xml", "pacs.008")]
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            (
                (reverse(f"admin:settlement_settlementwindow_{name}", args=[obj.pk]), label)
                for name, label in items
            ),
        )

    @admin.action(description="Close now (a worker nets them and opens the next window)")
    def close_now(self, request: HttpRequest, queryset: QuerySet[SettlementWindow]) -> None:
        count = 0
        for window in queryset.filter(status__in=(WindowStatus.OPEN, WindowStatus.CLOSING)):
            windows.window_close_request(window_id=window.pk, actor=staff_actor(request))
            count += 1
        self.message_user(request, f"close requested for {count} window(s)")

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/report/",
                view(self.report_view),
                name="settlement_settlementwindow_report",
            ),
            path(
                "<int:pk>/settle/",
                view(self.settle_view),
                name="settlement_settlementwindow_settle",
            ),
            path(
                "<int:pk>/instructions.csv",
                view(self.instructions_csv_view),
                name="settlement_settlementwindow_instructions_csv",
            ),
            path(
                "<int:pk>/instructions.xml",
                view(self.instructions_xml_view),
                name="settlement_settlementwindow_instructions_xml",
            ),
            *super().get_urls(),
        ]

    def _window(self, request: HttpRequest, pk: int) -> SettlementWindow:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(SettlementWindow.objects.select_related("corridor"), pk=pk)

    def report_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        window = self._window(request, pk)
        if request.GET.get("format") == "csv":
            response = HttpResponse(
                instructions.window_report_csv(window=window), content_type="text/csv"
            )
            response["Content-Disposition"] = f'attachment; filename="window-{pk}-report.csv"'
            return response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Settlement report: {window}",
            **instructions.window_report(window=window),
        }
        return TemplateResponse(request, "admin/settlement/window_report.html", context)

    def settle_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        window = self._window(request, pk)
        if not request.user.has_perm("settlement.change_settlementwindow"):
            raise PermissionDenied
        form = SettleForm(request.POST or None, initial={"settlement_rate": window.settlement_rate})
        if request.method == "POST" and form.is_valid():
            try:
                windows.window_settle(
                    window_id=window.pk,
                    settlement_rate=form.cleaned_data["settlement_rate"],
                    rate_source=form.cleaned_data["rate_source"],
                    actor=staff_actor(request),
                )
                self.message_user(request, f"{window} settled")
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:settlement_settlementwindow_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Settle {window}",
            "form": form,
            **instructions.window_report(window=window),
        }
        return TemplateResponse(request, "admin/settlement/window_settle.html", context)

    def instructions_csv_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        window = self._window(request, pk)
        response = HttpResponse(
            instructions.window_instructions_csv(window=window), content_type="text/csv"
        )
        response["Content-Disposition"] = f'attachment; filename="window-{pk}-instructions.csv"'
        return response

    def instructions_xml_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        window = self._window(request, pk)
        try:
            data = instructions.window_instructions_pacs008(window=window)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:settlement_settlementwindow_changelist"))
        response = HttpResponse(data, content_type="application/xml")
        response["Content-Disposition"] = f'attachment; filename="window-{pk}-pacs008.xml"'
        return response


# --- liquidity ------------------------------------------------------------------------------


@admin.register(LiquidityLimit)
class LiquidityLimitAdmin(admin.ModelAdmin):
    list_display = (
        "institution",
        "currency",
        "mode",
        "limit",
        "used",
        "percent_used",
        "on_breach",
        "alert_percent",
        "alerted_at",
    )
    list_filter = ("mode", "on_breach", "currency")
    readonly_fields = ("alerted_at", "updated_at")
    fields = (
        "institution",
        "currency",
        "mode",
        "amount_minor",
        "on_breach",
        "alert_percent",
        "alerted_at",
        "updated_at",
    )

    @admin.display(description="limit")
    def limit(self, obj: LiquidityLimit) -> str:
        return str(Money.from_minor(obj.amount_minor, obj.currency))

    @admin.display(description="used")
    def used(self, obj: LiquidityLimit) -> str:
        minor = liquidity_used_minor(institution=obj.institution, currency=obj.currency)
        return str(Money.from_minor(minor, obj.currency))

    @admin.display(description="% used")
    def percent_used(self, obj: LiquidityLimit) -> str:
        minor = liquidity_used_minor(institution=obj.institution, currency=obj.currency)
        percent = minor * 100 // max(1, obj.amount_minor)
        colour = "#ba2121" if percent >= obj.alert_percent else "inherit"
        return format_html('<b style="color:{}">{}%</b>', colour, percent)

    def save_model(
        self, request: HttpRequest, obj: LiquidityLimit, form: Any, change: bool
    ) -> None:
        from settlement.services.liquidity import liquidity_limit_set

        liquidity_limit_set(
            institution=obj.institution,
            amount=Money.from_minor(obj.amount_minor, obj.currency),
            mode=obj.mode,
            on_breach=obj.on_breach,
            alert_percent=obj.alert_percent,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if settings.LIQUIDITY_REQUIRE_LIMIT and request.method == "GET":
            unconfigured = liquidity_unconfigured_senders()
            if unconfigured:
                self.message_user(
                    request,
                    "No limit in their own currency, so their orders in it are refused "
                    "(liquidity_not_configured): "
                    + ", ".join(f"{i.code} ({i.currency_id})" for i in unconfigured),
                    messages.WARNING,
                )
        return super().changelist_view(request, extra_context)


@admin.register(LiquidityAlert)
class LiquidityAlertAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "institution", "currency", "kind", "used", "cap")
    list_filter = ("kind", "institution", "currency")

    @admin.display(description="used")
    def used(self, obj: LiquidityAlert) -> str:
        return str(Money.from_minor(obj.used_minor, obj.currency))

    @admin.display(description="limit")
    def cap(self, obj: LiquidityAlert) -> str:
        return str(Money.from_minor(obj.cap_minor, obj.currency))


# --- reconciliation -------------------------------------------------------------------------


class ResolveForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), min_length=3)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_staff=True), required=False
    )


class StatementUploadForm(forms.Form):
    format = forms.ChoiceField(choices=StatementFormat.choices)
    institution = forms.ModelChoiceField(queryset=Institution.objects.all(), required=False)
    file = forms.FileField()


def _evidence_rows(expected: Any, actual: Any) -> list[tuple[str, str, str]]:
    def flat(value: Any) -> dict[str, str]:
        if isinstance(value, dict):
            return {
                k: json.dumps(v, default=str) if not isinstance(v, str) else v
                for k, v in value.items()
            }
        if value is None:
            return {}
        return {"": json.dumps(value, default=str)}

    left, right = flat(expected), flat(actual)
    return [
        (key, left.get(key, "—"), right.get(key, "—")) for key in dict.fromkeys([*left, *right])
    ]


@admin.register(Break)
class BreakAdmin(ReadOnlyAdmin):
    list_display = (
        "opened_at",
        "kind",
        "status",
        "subject",
        "detail",
        "assigned_to",
        "statement_import",
    )
    list_filter = ("status", "kind", "assigned_to", "statement_import")
    search_fields = ("=order_id", "=subject", "key")
    date_hierarchy = "opened_at"
    show_full_result_count = False
    list_select_related = ("assigned_to", "statement_import")
    actions = ("assign_to_me",)
    readonly_fields = (
        "kind",
        "status",
        "order_id",
        "subject",
        "detail",
        "evidence",
        "statement_import",
        "line_no",
        "assigned_to",
        "opened_at",
        "resolved_at",
        "resolution_reason",
        "audit",
        "work",
    )
    fields = readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="evidence (expected | actual)")
    def evidence(self, obj: Break) -> str:
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td><code>{}</code></td><td><code>{}</code></td></tr>",
            _evidence_rows(obj.expected, obj.actual),
        )
        return format_html(
            "<table><thead><tr><th></th><th>hub recorded (expected)</th>"
            "<th>other source (actual)</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="audit")
    def audit(self, obj: Break) -> str:
        return format_html_join(
            "",
            "<div>{} — {} by {}: {}</div>",
            obj.events.values_list("at", "action", "actor", "note"),
        )

    @admin.display(description="work")
    def work(self, obj: Break) -> str:
        if obj.status != BreakStatus.OPEN:
            return ""
        return format_html(
            '<a class="button" href="{}">assign / resolve</a>',
            reverse("admin:settlement_break_work", args=[obj.pk]),
        )

    @admin.action(description="Assign to me")
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Break]) -> None:
        for brk in queryset.filter(status=BreakStatus.OPEN):
            reconciliation.break_assign(
                break_id=brk.pk, assignee=request.user, actor=staff_actor(request)
            )
        self.message_user(request, "assigned")

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/work/", view(self.work_view), name="settlement_break_work"),
            path("upload/", view(self.upload_view), name="settlement_break_upload"),
            *super().get_urls(),
        ]

    def work_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("settlement.view_break"):
            raise PermissionDenied
        brk = get_object_or_404(Break, pk=pk)
        assign = AssignForm(prefix="assign", initial={"assignee": brk.assigned_to})
        resolve = ResolveForm(prefix="resolve")
        if request.method == "POST":
            try:
                if request.POST.get("action") == "assign":
                    assign = AssignForm(request.POST, prefix="assign")
                    if assign.is_valid():
                        reconciliation.break_assign(
                            break_id=pk,
                            assignee=assign.cleaned_data["assignee"],
                            actor=staff_actor(request),
                        )
                        return HttpResponseRedirect(request.path)
                elif request.POST.get("action") == "resolve":
                    resolve = ResolveForm(request.POST, prefix="resolve")
                    if resolve.is_valid():
                        reconciliation.break_resolve(
                            break_id=pk,
                            reason=resolve.cleaned_data["reason"],
                            actor=staff_actor(request),
                        )
                        self.message_user(request, "resolved")
                        return HttpResponseRedirect(
                            reverse("admin:settlement_break_change", args=[pk])
                        )
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Break {brk.pk}: {brk.get_kind_display()}",
            "brk": brk,
            "evidence": _evidence_rows(brk.expected, brk.actual),
            "events": brk.events.all(),
            "assign": assign,
            "resolve": resolve,
        }
        return TemplateResponse(request, "admin/settlement/break_work.html", context)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("settlement.add_statementimport"):
            raise PermissionDenied
        form = StatementUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            with tempfile.TemporaryDirectory() as folder:
                target = Path(folder) / "statement"
                with target.open("wb") as fh:
                    for chunk in upload.chunks():
                        fh.write(chunk)
                try:
                    imported = statements.statement_import(
                        format=form.cleaned_data["format"],
                        path=target,
                        institution=form.cleaned_data["institution"],
                        actor=staff_actor(request),
                        filename=upload.name,
                    )
                    self.message_user(
                        request,
                        f"{imported.line_count} line(s): {imported.matched_count} matched, "
                        f"{imported.break_count} break(s)",
                    )
                    return HttpResponseRedirect(
                        reverse("admin:settlement_break_changelist")
                        + f"?statement_import__id__exact={imported.pk}"
                    )
                except DomainError as exc:
                    self.message_user(request, exc.detail, messages.ERROR)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import a statement",
            "form": form,
        }
        return TemplateResponse(request, "admin/settlement/statement_upload.html", context)


@admin.register(StatementImport)
class StatementImportAdmin(ReadOnlyAdmin):
    list_display = (
        "imported_at",
        "format",
        "institution",
        "filename",
        "line_count",
        "matched_count",
        "break_count",
        "imported_by",
    )
    list_filter = ("format", "institution")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        extra = {"upload_url": reverse("admin:settlement_break_upload"), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)
