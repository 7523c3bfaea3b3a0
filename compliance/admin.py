"""The compliance console in the Django admin: proposals and their approval pages, alerts,
cases, monitoring rules with back-test, sanctions list upload and re-screening progress, the
audit trail — and the four-eyes versions of the decisions other apps' admin pages used to
take in one click (held orders, settling a window, liquidity limits, KYC above tier 0)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from compliance.models import (
    Alert,
    AlertStatus,
    AuditEvent,
    Case,
    CaseStatus,
    Proposal,
    ProposalKind,
    ProposalStatus,
    RescreenRun,
    Rule,
    RuleVersion,
    Typology,
)
from compliance.services import cases as case_services
from compliance.services import four_eyes
from compliance.services.monitoring import rule_backtest, rule_params_clean
from compliance.services.staff import audit_record, staff_ref
from core.errors import DomainError
from core.money import Money
from institutions.admin_base import ReadOnlyAdmin
from kyc.admin import KycRecordAdmin
from kyc.models import KycRecord
from remittance.admin import RemittanceOrderAdmin
from remittance.models import OrderStatus, RemittanceOrder
from settlement.admin import LiquidityLimitAdmin, SettlementWindowAdmin
from settlement.models import LiquidityLimit, SettlementWindow, WindowStatus

FORM_TEMPLATE = "admin/compliance/form.html"


def _user(request: HttpRequest) -> AbstractBaseUser:
    """The signed-in member of staff (the admin lets no one else in)."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied
    return cast(AbstractBaseUser, user)


def _page(
    admin_obj: admin.ModelAdmin,
    request: HttpRequest,
    *,
    title: str,
    form: forms.Form | None = None,
    rows: Iterable[tuple[str, Any]] = (),
    submit: str = "",
    intro: str = "",
    selected: Iterable[Any] = (),
    action: str = "",
    **extra: Any,
) -> TemplateResponse:
    context = {
        **admin_obj.admin_site.each_context(request),
        "opts": admin_obj.model._meta,
        "title": title,
        "form": form,
        "rows": list(rows),
        "submit": submit,
        "intro": intro,
        "selected": [str(s) for s in selected],
        "action": action,
        **extra,
    }
    response = TemplateResponse(request, extra.pop("template", FORM_TEMPLATE), context)
    response["Cache-Control"] = "no-store"
    return response


def csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    return response


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=500,
        help_text="Say why, for the approver and the record (kept in the hub, not on the ledger).",
    )


# --- held orders ------------------------------------------------------------------------------


class ComplianceOrderAdmin(RemittanceOrderAdmin):
    """Orders, with four-eyes decisions on held ones in place of the one-click actions."""

    actions = ["propose_release", "propose_reject", "export_csv"]

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if not request.user.has_perm("compliance.propose_order_decision"):
            actions.pop("propose_release", None)
            actions.pop("propose_reject", None)
        return actions

    @admin.action(description="Propose releasing held orders (a second person approves)")
    def propose_release(self, request: HttpRequest, queryset: QuerySet) -> Any:
        return self._propose(request, queryset, ProposalKind.ORDER_RELEASE, "propose_release")

    @admin.action(
        description="Propose rejecting held orders and refunding (a second person approves)"
    )
    def propose_reject(self, request: HttpRequest, queryset: QuerySet) -> Any:
        return self._propose(request, queryset, ProposalKind.ORDER_REJECT, "propose_reject")

    def _propose(self, request: HttpRequest, queryset: QuerySet, kind: str, action: str) -> Any:
        held = list(queryset.filter(status=OrderStatus.HELD))
        if not held:
            self.message_user(request, "None of the chosen orders is held.", messages.WARNING)
            return None
        form = ReasonForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            made = 0
            for order in held:
                try:
                    four_eyes.proposal_create(
                        kind=kind,
                        target=str(order.pk),
                        reason=form.cleaned_data["reason"],
                        proposer=_user(request),
                    )
                    made += 1
                except DomainError as exc:
                    self.message_user(request, f"{order.pk}: {exc.detail}", messages.ERROR)
            if made:
                self.message_user(
                    request,
                    f"{made} proposal(s) waiting for a second person's approval.",
                    messages.SUCCESS,
                )
            return None
        verb = "release" if kind == ProposalKind.ORDER_RELEASE else "reject and refund"
        rows = [
            (
                str(o.pk),
                f"{Money.from_minor(o.send_minor, o.send_currency)} → "
                f"{Money.from_minor(o.receive_minor, o.receive_currency)} "
                f"(held: {o.hold_reason or '—'})",
            )
            for o in held
        ]
        return _page(
            self,
            request,
            title=f"Propose to {verb} {len(held)} held order(s)",
            intro="Nothing happens until a second person with the approving role approves.",
            form=form,
            rows=rows,
            submit=f"Propose to {verb}",
            selected=[o.pk for o in held],
            action=action,
        )

    @admin.action(description="Export the chosen orders as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return orders_csv(queryset)


def orders_csv(queryset: QuerySet) -> HttpResponse:
    """Orders with money in major units and its currency."""
    rows = (
        [
            str(o.pk),
            o.created_at.isoformat(),
            o.status,
            o.hold_reason,
            o.sending_institution.code,
            o.receiving_institution.code,
            str(Money.from_minor(o.send_minor, o.send_currency).amount),
            o.send_currency,
            str(Money.from_minor(o.fee_minor, o.send_currency).amount),
            str(Money.from_minor(o.receive_minor, o.receive_currency).amount),
            o.receive_currency,
            str(o.rate),
            o.sender_kyc_ref,
            o.beneficiary_kyc_ref,
        ]
        for o in queryset.select_related("sending_institution", "receiving_institution")
    )
    return csv_response(
        "orders.csv",
        [
            "order_id",
            "created_at",
            "status",
            "hold_reason",
            "sending_institution",
            "receiving_institution",
            "send_amount",
            "send_currency",
            "fee",
            "receive_amount",
            "receive_currency",
            "rate",
            "sender_kyc_ref",
            "beneficiary_kyc_ref",
        ],
        rows,
    )


admin.site.unregister(RemittanceOrder)
admin.site.register(RemittanceOrder, ComplianceOrderAdmin)


# --- settlement and liquidity -------------------------------------------------------------------


class ProposeSettleForm(forms.Form):
    settlement_rate = forms.DecimalField(
        max_digits=20,
        decimal_places=10,
        min_value=0,
        help_text="Units of the receive currency per unit of the send currency; the latest "
        "market rate is suggested.",
    )
    rate_source = forms.CharField(max_length=64, initial="manual")
    reason = ReasonForm.base_fields["reason"]


class ComplianceWindowAdmin(SettlementWindowAdmin):
    """Settling a window is proposed here and approved by a second person."""

    def settle_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        window = self._window(request, pk)
        if not request.user.has_perm("compliance.propose_settlement"):
            raise PermissionDenied
        changelist = reverse("admin:settlement_settlementwindow_changelist")
        if window.status == WindowStatus.SETTLED:
            self.message_user(request, f"{window} is already settled.", messages.WARNING)
            return HttpResponseRedirect(changelist)
        if window.status != WindowStatus.CLOSED:
            self.message_user(
                request,
                f"{window} is {window.status}; only a closed window settles.",
                messages.ERROR,
            )
            return HttpResponseRedirect(changelist)
        suggested = four_eyes.suggested_rate(window=window)
        form = ProposeSettleForm(
            request.POST or None,
            initial={"settlement_rate": window.settlement_rate or suggested},
        )
        rate = request.POST.get("settlement_rate") or window.settlement_rate or suggested
        if request.method == "POST" and form.is_valid() and "confirm" in request.POST:
            try:
                proposal = four_eyes.proposal_create(
                    kind=ProposalKind.WINDOW_SETTLE,
                    target=str(window.pk),
                    reason=form.cleaned_data["reason"],
                    proposer=_user(request),
                    params={
                        "rate": str(form.cleaned_data["settlement_rate"].normalize()),
                        "rate_source": form.cleaned_data["rate_source"],
                    },
                )
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Settlement of {window} proposed ({proposal.ref}); a second person approves.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(changelist)
        try:
            preview = four_eyes.settlement_preview(window_id=window.pk, rate=rate)
        except (ArithmeticError, ValueError):
            preview = four_eyes.settlement_preview(window_id=window.pk, rate=None)
        return _page(
            self,
            request,
            title=f"Propose settling {window}",
            intro="Preview at the rate below (press Preview after changing it). Settling posts "
            "every ledger leg and cannot be undone; it runs when a second person approves.",
            form=form,
            rows=preview,
            submit="Propose settlement",
            preview_button=True,
        )


admin.site.unregister(SettlementWindow)
admin.site.register(SettlementWindow, ComplianceWindowAdmin)


class LimitForm(forms.ModelForm):
    """The limit in major units of its currency (never minor units on a form)."""

    amount = forms.DecimalField(
        max_digits=20,
        decimal_places=2,
        min_value=0,
        help_text="In major units of the currency, e.g. 500000.00",
    )

    class Meta:
        model = LiquidityLimit
        fields = ("institution", "currency", "mode", "on_breach", "alert_percent")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["amount"].initial = Money.from_minor(
                self.instance.amount_minor, self.instance.currency
            ).amount

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("amount") is not None and data.get("currency"):
            try:
                self.instance.amount_minor = Money.parse(
                    str(data["amount"]), str(data["currency"])
                ).minor
            except ValueError as exc:
                self.add_error("amount", str(exc))
        return data


class ComplianceLimitAdmin(LiquidityLimitAdmin):
    """A changed limit becomes a proposal; it takes effect when a second person approves."""

    form = LimitForm
    fields = (
        "institution",
        "currency",
        "mode",
        "amount",
        "on_breach",
        "alert_percent",
        "alerted_at",
        "updated_at",
    )

    def save_model(
        self, request: HttpRequest, obj: LiquidityLimit, form: Any, change: bool
    ) -> None:
        amount = Money.from_minor(obj.amount_minor, obj.currency)
        try:
            proposal = four_eyes.proposal_create(
                kind=ProposalKind.LIQUIDITY_LIMIT,
                target=obj.institution.code,
                reason=f"limit change to {amount} requested in the admin",
                proposer=_user(request),
                params={
                    "amount": str(amount.amount),
                    "currency": obj.currency,
                    "mode": obj.mode,
                    "on_breach": obj.on_breach,
                    "alert_percent": obj.alert_percent,
                },
            )
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return
        self.message_user(
            request,
            f"Limit change proposed ({proposal.ref}); it applies once a second person approves.",
            messages.WARNING,
        )

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None  # nothing changed yet: the proposal is the record

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("compliance.propose_settlement")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("compliance.propose_settlement")


admin.site.unregister(LiquidityLimit)
admin.site.register(LiquidityLimit, ComplianceLimitAdmin)


class ComplianceKycAdmin(KycRecordAdmin):
    """Verifying or rejecting a record above tier 0 is proposed here and approved by a
    second person; other status moves (needs info, pending) stay one step."""

    def _act(
        self, request: HttpRequest, record: KycRecord, action: str, data: dict[str, Any]
    ) -> dict[str, Any] | None:
        tier = data.get("tier") or record.tier
        if action != "status" or data["status"] not in ("verified", "rejected") or not tier:
            return super()._act(request, record, action, data)
        proposal = four_eyes.proposal_create(
            kind=ProposalKind.KYC_STATUS,
            target=record.kyc_ref,
            reason=data["reason"],
            proposer=_user(request),
            params={"status": data["status"], "tier": tier},
        )
        self.message_user(
            request,
            f"{data['status'].capitalize()} at tier {tier} proposed ({proposal.ref}); it takes "
            "effect when a second person approves.",
            messages.WARNING,
        )
        return None


admin.site.unregister(KycRecord)
admin.site.register(KycRecord, ComplianceKycAdmin)


# --- proposals -------------------------------------------------------------------------------


class DecideForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Required to turn a proposal down; optional when approving.",
    )


class ListUploadForm(forms.Form):
    format = forms.ChoiceField(
        choices=[("un-xml", "UN consolidated list (XML)"), ("ofac-csv", "OFAC SDN (CSV)")]
    )
    file = forms.FileField(help_text="The list file as published (at most 50 MB).")
    reason = ReasonForm.base_fields["reason"]


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyAdmin):
    list_display = (
        "ref",
        "kind",
        "target",
        "status",
        "proposer",
        "proposed_at",
        "expires_at",
        "decide_link",
    )
    list_filter = ("status", "kind")
    search_fields = ("=ref", "=target")
    exclude = ("attachment",)

    @admin.display(description="proposed by")
    def proposer(self, obj: Proposal) -> str:
        return staff_ref(obj.proposed_by)

    @admin.display(description="")
    def decide_link(self, obj: Proposal) -> str:
        label = "Review and decide" if obj.status == ProposalStatus.PENDING else "View"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:compliance_proposal_decide", args=[obj.pk]), label
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        four_eyes.proposals_expire()
        extra = dict(extra_context or {})
        if request.user.has_perm("compliance.propose_sanctions_list"):
            extra["upload_url"] = reverse("admin:compliance_proposal_upload_list")
        return super().changelist_view(request, extra)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/decide/", view(self.decide_view), name="compliance_proposal_decide"),
            path("upload-list/", view(self.upload_view), name="compliance_proposal_upload_list"),
            *super().get_urls(),
        ]

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        four_eyes.proposals_expire()
        proposal = get_object_or_404(Proposal, pk=pk)
        spec = four_eyes.KINDS[proposal.kind]
        form = DecideForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            note = form.cleaned_data["note"]
            try:
                if "approve" in request.POST:
                    proposal = four_eyes.proposal_approve(
                        proposal_id=proposal.pk,
                        approver=_user(request),
                        note=note,
                    )
                    self.message_user(
                        request, f"Approved {proposal.ref}: {proposal.outcome}", messages.SUCCESS
                    )
                else:
                    proposal = four_eyes.proposal_reject(
                        proposal_id=proposal.pk,
                        user=_user(request),
                        note=note,
                    )
                    self.message_user(request, f"{proposal.ref} turned down.", messages.WARNING)
                return HttpResponseRedirect(reverse("admin:compliance_proposal_changelist"))
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
                proposal.refresh_from_db()
        is_proposer = proposal.proposed_by_id == request.user.pk
        pending = proposal.status == ProposalStatus.PENDING
        rows = [
            ("Proposal", proposal.ref),
            ("Decision", proposal.get_kind_display()),
            ("Status", proposal.status),
            (
                "Proposed by",
                f"{staff_ref(proposal.proposed_by)} at {proposal.proposed_at:%Y-%m-%d %H:%M} UTC",
            ),
            ("Expires", f"{proposal.expires_at:%Y-%m-%d %H:%M} UTC"),
            ("Reason", proposal.reason),
        ]
        if proposal.decided_at:
            rows.append(
                ("Decided", f"{proposal.decided_at:%Y-%m-%d %H:%M} UTC {proposal.decision_note}")
            )
        if proposal.outcome:
            rows.append(("Outcome", proposal.outcome))
        if proposal.statement_ref:
            rows.append(("Ledger statement (queued ref)", str(proposal.statement_ref)))
        return _page(
            self,
            request,
            title=f"{proposal.get_kind_display()}: {proposal.target}",
            template="admin/compliance/proposal_decide.html",
            form=form if pending else None,
            rows=rows,
            preview=four_eyes.proposal_preview(proposal=proposal) if pending else [],
            proposal=proposal,
            can_approve=pending and not is_proposer and request.user.has_perm(spec.approve_perm),
            can_reject=pending and (is_proposer or request.user.has_perm(spec.approve_perm)),
            is_proposer=is_proposer,
        )

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("compliance.propose_sanctions_list"):
            raise PermissionDenied
        form = ListUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > 50 * 1024 * 1024:
                form.add_error("file", "At most 50 MB.")
            else:
                try:
                    proposal = four_eyes.proposal_create(
                        kind=ProposalKind.SANCTIONS_LIST,
                        target=form.cleaned_data["format"],
                        reason=form.cleaned_data["reason"],
                        proposer=_user(request),
                        params={
                            "format": form.cleaned_data["format"],
                            "filename": upload.name[:100],
                        },
                        attachment=upload.read(),
                    )
                except DomainError as exc:
                    form.add_error("file", exc.detail)
                else:
                    self.message_user(
                        request,
                        f"List upload proposed ({proposal.ref}); it loads once a second person "
                        "approves.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:compliance_proposal_changelist"))
        return _page(
            self,
            request,
            title="Upload a sanctions list",
            intro="The file is checked now and loaded when a second person approves; then every "
            "customer and open order is re-screened against it.",
            form=form,
            submit="Propose loading this list",
            multipart=True,
        )


# --- alerts and cases ----------------------------------------------------------------------------


class EscalateForm(ReasonForm):
    case = forms.ModelChoiceField(
        queryset=Case.objects.exclude(status__in=[CaseStatus.CLOSED, CaseStatus.REPORTED]),
        required=False,
        help_text="Add to this open case, or leave empty to open a new case.",
    )


def _money(minor: int | None, currency: str) -> str:
    return "" if minor is None or not currency else str(Money.from_minor(minor, currency))


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = (
        "ref",
        "created_at",
        "source",
        "action",
        "typology",
        "score",
        "amount",
        "order_link",
        "kyc_ref",
        "status",
        "case",
    )
    list_filter = ("status", "action", "source", "typology")
    search_fields = ("=ref", "=kyc_ref", "=order_id")
    actions = ["dismiss", "escalate", "export_csv"]
    readonly_fields = ("findings_list",)

    @admin.display(description="amount")
    def amount(self, obj: Alert) -> str:
        return _money(obj.amount_minor, obj.currency)

    @admin.display(description="order")
    def order_link(self, obj: Alert) -> str:
        if not obj.order_id:
            return ""
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:remittance_remittanceorder_change", args=[obj.order_id]),
            str(obj.order_id)[:8],
        )

    @admin.display(description="findings")
    def findings_list(self, obj: Alert) -> str:
        return format_html(
            "<ul>{}</ul>",
            format_html(
                "".join(
                    format_html(
                        "<li>{} v{} (+{}, {}): {}</li>",
                        f.get("rule"),
                        f.get("version"),
                        f.get("score"),
                        f.get("typology"),
                        f.get("why"),
                    )
                    for f in obj.findings
                )
            ),
        )

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if not request.user.has_perm("compliance.triage_alert"):
            actions.pop("dismiss", None)
            actions.pop("escalate", None)
        return actions

    @admin.action(description="Dismiss as false positive (with a reason)")
    def dismiss(self, request: HttpRequest, queryset: QuerySet[Alert]) -> Any:
        open_alerts = list(queryset.filter(status=AlertStatus.OPEN))
        form = ReasonForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            for alert in open_alerts:
                case_services.alert_dismiss(
                    alert=alert,
                    user=_user(request),
                    reason=form.cleaned_data["reason"],
                )
            self.message_user(request, f"{len(open_alerts)} alert(s) dismissed.")
            return None
        return _page(
            self,
            request,
            title=f"Dismiss {len(open_alerts)} alert(s)",
            form=form,
            rows=[(a.ref, f"{a.typology} {a.score}") for a in open_alerts],
            submit="Dismiss",
            selected=[a.pk for a in open_alerts],
            action="dismiss",
        )

    @admin.action(description="Escalate to a case")
    def escalate(self, request: HttpRequest, queryset: QuerySet[Alert]) -> Any:
        open_alerts = list(queryset.filter(status=AlertStatus.OPEN))
        form = EscalateForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                case = case_services.alerts_escalate(
                    alerts=open_alerts,
                    user=_user(request),
                    reason=form.cleaned_data["reason"],
                    case=form.cleaned_data["case"],
                )
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
                return None
            return HttpResponseRedirect(reverse("admin:compliance_case_work", args=[case.pk]))
        return _page(
            self,
            request,
            title=f"Escalate {len(open_alerts)} alert(s) to a case",
            form=form,
            rows=[(a.ref, f"{a.typology} {a.score} {a.kyc_ref}") for a in open_alerts],
            submit="Escalate",
            selected=[a.pk for a in open_alerts],
            action="escalate",
        )

    @admin.action(description="Export the chosen alerts as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Alert]) -> HttpResponse:
        return csv_response(
            "alerts.csv",
            [
                "ref",
                "created_at",
                "source",
                "action",
                "typology",
                "score",
                "amount",
                "currency",
                "order_id",
                "kyc_ref",
                "status",
                "case",
                "findings",
            ],
            (
                [
                    a.ref,
                    a.created_at.isoformat(),
                    a.source,
                    a.action,
                    a.typology,
                    a.score,
                    ""
                    if a.amount_minor is None
                    else str(Money.from_minor(a.amount_minor, a.currency).amount),
                    a.currency,
                    a.order_id or "",
                    a.kyc_ref,
                    a.status,
                    a.case.ref if a.case else "",
                    "; ".join(str(f.get("why", "")) for f in a.findings),
                ]
                for a in queryset.select_related("case")
            ),
        )


class CaseWorkForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_staff=True, is_active=True),
        required=False,
    )
    deadline = forms.DateField(required=False, help_text="YYYY-MM-DD")
    status = forms.ChoiceField(choices=CaseStatus.choices)
    decision = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Required to close the case or mark it reported.",
    )


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), label="Note")


class EvidenceForm(forms.Form):
    file = forms.FileField(help_text="Encrypted at rest; at most 10 MB.")


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ("ref", "title", "status", "assignee", "deadline", "created_at", "work_link")
    list_filter = ("status",)
    search_fields = ("=ref", "title")

    @admin.display(description="")
    def work_link(self, obj: Case) -> str:
        return format_html(
            '<a href="{}">Open</a>', reverse("admin:compliance_case_work", args=[obj.pk])
        )

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/work/", view(self.work_view), name="compliance_case_work"),
            path("<int:pk>/goaml.xml", view(self.goaml_view), name="compliance_case_goaml"),
            path("<int:pk>/summary.pdf", view(self.pdf_view), name="compliance_case_pdf"),
            path(
                "<int:pk>/evidence/<int:evidence_id>/",
                view(self.evidence_view),
                name="compliance_case_evidence",
            ),
            *super().get_urls(),
        ]

    def work_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        case = get_object_or_404(Case, pk=pk)
        can_work = request.user.has_perm("compliance.work_case")
        work = CaseWorkForm(
            prefix="work",
            initial={
                "assignee": case.assignee_id,
                "deadline": case.deadline,
                "status": case.status,
                "decision": case.decision,
            },
        )
        note, evidence = NoteForm(prefix="note"), EvidenceForm(prefix="evidence")
        if request.method == "POST":
            if not can_work:
                raise PermissionDenied
            what = request.POST.get("what")
            try:
                if what == "work":
                    work = CaseWorkForm(request.POST, prefix="work")
                    if work.is_valid():
                        case_services.case_update(
                            case=case,
                            user=_user(request),
                            assignee=work.cleaned_data["assignee"],
                            deadline=work.cleaned_data["deadline"],
                            status=work.cleaned_data["status"],
                            decision=work.cleaned_data["decision"],
                        )
                        return HttpResponseRedirect(request.path)
                elif what == "note":
                    note = NoteForm(request.POST, prefix="note")
                    if note.is_valid():
                        case_services.case_note_add(
                            case=case,
                            user=_user(request),
                            text=note.cleaned_data["text"],
                        )
                        return HttpResponseRedirect(request.path)
                elif what == "evidence":
                    evidence = EvidenceForm(request.POST, request.FILES, prefix="evidence")
                    if evidence.is_valid():
                        upload = evidence.cleaned_data["file"]
                        case_services.case_evidence_add(
                            case=case,
                            user=_user(request),
                            filename=upload.name,
                            content_type=upload.content_type or "application/octet-stream",
                            content=upload.read(),
                        )
                        return HttpResponseRedirect(request.path)
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
        orders = RemittanceOrder.objects.filter(pk__in=case.order_ids).order_by("created_at")
        return _page(
            self,
            request,
            title=f"Case {case.ref}: {case.title}",
            template="admin/compliance/case_work.html",
            case=case,
            rows=[
                ("Status", case.get_status_display()),
                ("Assignee", staff_ref(case.assignee) if case.assignee else "—"),
                ("Deadline", case.deadline or "—"),
                ("Opened", f"{case.created_at:%Y-%m-%d %H:%M} UTC by {case.opened_by}"),
                ("Customers (KYC refs)", ", ".join(case.kyc_refs) or "—"),
                ("Decision", case.decision or "—"),
            ],
            orders=[
                (
                    o.pk,
                    o.status,
                    Money.from_minor(o.send_minor, o.send_currency),
                    Money.from_minor(o.receive_minor, o.receive_currency),
                    o.created_at,
                )
                for o in orders
            ],
            alerts=case.alerts.all(),
            notes=case.notes.all(),
            evidence=case.evidence.all(),
            work_form=work,
            note_form=note,
            evidence_form=evidence,
            can_work=can_work,
            can_file=request.user.has_perm("compliance.file_report"),
            multipart=True,
        )

    def goaml_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("compliance.file_report"):
            raise PermissionDenied
        from compliance.services.reports import case_goaml

        case = get_object_or_404(Case, pk=pk)
        actor = staff_ref(request.user)
        report = case_goaml(case=case, actor=f"staff:{actor}")
        audit_record(
            actor=actor,
            action="case.goaml_exported",
            object_type="case",
            object_ref=case.ref,
            detail={"valid": report.valid, "errors": report.errors[:5]},
        )
        if not report.valid:
            self.message_user(
                request,
                "The report does not validate against the goAML schema: "
                + "; ".join(report.errors[:3]),
                messages.ERROR,
            )
        response = HttpResponse(report.xml, content_type="application/xml")
        response["Content-Disposition"] = f'attachment; filename="{case.ref}-goaml.xml"'
        response["X-Goaml-Valid"] = "true" if report.valid else "false"
        response["Cache-Control"] = "no-store"
        return response

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        from compliance.services.reports import case_pdf

        case = get_object_or_404(Case, pk=pk)
        actor = staff_ref(request.user)
        data = case_pdf(case=case, actor=actor)
        audit_record(
            actor=actor, action="case.pdf_printed", object_type="case", object_ref=case.ref
        )
        response = HttpResponse(data, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{case.ref}.pdf"'
        return response

    def evidence_view(self, request: HttpRequest, pk: int, evidence_id: int) -> HttpResponse:
        if not request.user.has_perm("compliance.work_case"):
            raise PermissionDenied
        case = get_object_or_404(Case, pk=pk)
        item = get_object_or_404(case.evidence, pk=evidence_id)
        filename, _content_type, content = case_services.case_evidence_read(
            evidence=item,
            user=_user(request),
        )
        response = HttpResponse(content, content_type="application/octet-stream")
        safe = "".join(ch for ch in filename if ch.isalnum() or ch in "._-") or "evidence"
        response["Content-Disposition"] = f'attachment; filename="{safe}"'
        response["Cache-Control"] = "no-store"
        return response


# --- monitoring rules --------------------------------------------------------------------------


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = ("code", "kind", "typology", "params", "score", "description", "enabled")
        help_texts = {
            "params": "JSON. Each kind's parameters are listed in docs/compliance.md, e.g. "
            'velocity_count: {"party": "sender", "window": "day", "max_count": 10}.',
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "kind" in data and "params" in data:
            try:
                rule_params_clean(data["kind"], data["params"])
            except forms.ValidationError as exc:
                self.add_error("params", exc)
        return data


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    form = RuleForm
    list_display = (
        "code",
        "kind",
        "typology",
        "score",
        "enabled",
        "version",
        "description",
        "backtest_link",
    )
    list_filter = ("enabled", "typology", "kind")
    readonly_fields = ("version", "updated_at")

    @admin.display(description="")
    def backtest_link(self, obj: Rule) -> str:
        return format_html(
            '<a href="{}">Back-test</a>', reverse("admin:compliance_rule_backtest", args=[obj.pk])
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # disable instead: alerts cite rule versions

    def save_model(self, request: HttpRequest, obj: Rule, form: Any, change: bool) -> None:
        from compliance.services.rules import rule_save

        rule_save(rule=obj, actor=staff_ref(request.user), created=not change)

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/backtest/",
                self.admin_site.admin_view(self.backtest_view),
                name="compliance_rule_backtest",
            ),
            *super().get_urls(),
        ]

    def backtest_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        rule = get_object_or_404(Rule.objects.select_related("typology"), pk=pk)
        result = rule_backtest(rule=rule)
        rows = [
            ("Rule", f"{rule.code} v{rule.version} ({rule.get_kind_display()})"),
            ("Parameters", rule.params),
            ("Orders in the last 30 days", result.orders),
            ("Would have fired on", f"{result.flagged} order(s), {result.senders} sender(s)"),
            ("Share", f"{(100 * result.flagged / result.orders) if result.orders else 0:.1f}%"),
        ] + [("Example", e) for e in result.examples]
        return _page(self, request, title=f"Back-test of {rule.code}", rows=rows)


@admin.register(Typology)
class TypologyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "review_score", "interdict_score")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RuleVersion)
class RuleVersionAdmin(ReadOnlyAdmin):
    list_display = ("rule", "version", "enabled", "score", "saved_by", "saved_at")
    list_filter = ("rule",)


@admin.register(RescreenRun)
class RescreenRunAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "list_import_id",
        "status",
        "progress",
        "hits",
        "alerts",
        "started_at",
        "finished_at",
    )

    @admin.display(description="progress")
    def progress(self, obj: RescreenRun) -> str:
        return format_html(
            '<progress max="100" value="{}">{}%</progress> {} / {}',
            obj.percent,
            obj.percent,
            obj.done,
            obj.total,
        )


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor", "action", "object_type", "object_ref")
    list_filter = ("action", "object_type")
    search_fields = ("=actor", "=object_ref")

    def get_urls(self) -> list:
        return [
            path(
                "verify-ledger/",
                self.admin_site.admin_view(self.verify_view),
                name="compliance_auditevent_verify_ledger",
            ),
            *super().get_urls(),
        ]

    def verify_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not request.user.has_perm("ledger.view_entry"):
            raise PermissionDenied
        from compliance.services.integrity import ledger_verify_record

        event = ledger_verify_record(actor=staff_ref(request.user))
        self.message_user(request, f"Ledger verification: {event.detail['result']}")
        return HttpResponseRedirect(reverse("admin:index"))


def _dashboard_index(original: Any) -> Any:
    """The admin index for staff: the dashboard above the usual list of apps."""

    def index(request: HttpRequest, extra_context: dict | None = None) -> Any:
        from compliance.selectors import dashboard

        extra = dict(extra_context or {})
        if request.user.is_active and request.user.is_staff:
            extra["dashboard"] = dashboard(user=_user(request))
            extra["can_verify"] = request.user.has_perm("ledger.view_entry")
        return original(request, extra)

    return index


admin.site.index_template = "admin/compliance/dashboard.html"
admin.site.index = _dashboard_index(admin.site.index)  # type: ignore[method-assign]
