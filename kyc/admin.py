"""Admin for compliance staff: review queue, decrypt on demand (audited), status changes and
erasure with a reason, screening hits, read-only access log (docs/compliance.md).

Every write goes through a service behind a custom permission; no KYC table is editable as a
form. Decrypted data is rendered into one POST response only (never stored, `no-store`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.errors import DomainError
from institutions.admin_base import ReadOnlyAdmin, staff_actor
from kyc import services
from kyc.errors import KycIntegrityError
from kyc.models import (
    KycAccessLog,
    KycGrant,
    KycRecord,
    KycStatusChange,
    ScreeningEntry,
    ScreeningHit,
    ScreeningImport,
)
from kyc.selectors import kyc_access_log


class DecryptForm(forms.Form):
    purpose = forms.CharField(max_length=64, help_text="Why you need to see this record")


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=KycRecord.Status.choices)
    tier = forms.TypedChoiceField(
        choices=[(t, f"tier {t}") for t in services.TIERS], coerce=int, required=False
    )
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class EraseForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    confirm = forms.BooleanField(label="I understand the data key is destroyed for good")


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(KycRecord)
class KycRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "kyc_ref",
        "owner",
        "role",
        "status",
        "tier",
        "screening_hold",
        "erased",
        "created_at",
        "review_link",
    )
    list_filter = ("status", "screening_hold", "role", "tier", "owner")
    search_fields = ("kyc_ref",)
    fields = (
        "kyc_ref",
        "owner",
        "role",
        "status",
        "tier",
        "screening_hold",
        "present_fields",
        "commitment",
        "erased_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(boolean=True)
    def erased(self, obj: KycRecord) -> bool:
        return obj.is_erased

    @admin.display(description="review")
    def review_link(self, obj: KycRecord) -> str:
        url = reverse("admin:kyc_kycrecord_review", args=[obj.pk])
        return format_html('<a href="{}">review</a>', url)

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/review/",
                self.admin_site.admin_view(self.review_view),
                name="kyc_kycrecord_review",
            ),
            *super().get_urls(),
        ]

    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("kyc.view_kycrecord"):
            raise PermissionDenied
        record = get_object_or_404(KycRecord.objects.select_related("owner"), pk=pk)
        decrypted: dict[str, Any] | None = None
        forms_ = {
            "decrypt": DecryptForm(prefix="decrypt"),
            "status": StatusForm(prefix="status", initial={"status": record.status}),
            "erase": EraseForm(prefix="erase"),
        }
        if request.method == "POST":
            action = request.POST.get("action", "")
            form_class = {"decrypt": DecryptForm, "status": StatusForm, "erase": EraseForm}.get(
                action
            )
            perm = {
                "decrypt": "kyc.decrypt_kycrecord",
                "status": "kyc.review_kycrecord",
                "erase": "kyc.erase_kycrecord",
            }.get(action)
            if form_class is None or perm is None or not request.user.has_perm(perm):
                raise PermissionDenied
            form = form_class(request.POST, prefix=action)
            forms_[action] = form
            if form.is_valid():
                try:
                    decrypted = self._act(request, record, action, form.cleaned_data)
                except DomainError as exc:
                    self.message_user(request, exc.detail, messages.ERROR)
                except KycIntegrityError:
                    self.message_user(
                        request,
                        "This record failed authentication (tampering or a missing KEK). "
                        "Escalate to security; do not retry.",
                        messages.ERROR,
                    )
                if action != "decrypt":
                    return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Review {record.kyc_ref}",
            "record": record,
            "decrypted": decrypted,
            "decrypted_rows": labelled_fields(decrypted["data"]) if decrypted else [],
            "forms": forms_,
            "can_decrypt": request.user.has_perm("kyc.decrypt_kycrecord"),
            "can_review": request.user.has_perm("kyc.review_kycrecord"),
            "can_erase": request.user.has_perm("kyc.erase_kycrecord"),
            "hits": record.screening_hits.select_related("entry"),
            "changes": record.status_changes.all()[:50],
            "access_log": kyc_access_log(record=record)[:50],
        }
        response = TemplateResponse(request, "admin/kyc/review.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def _act(
        self, request: HttpRequest, record: KycRecord, action: str, data: dict[str, Any]
    ) -> dict[str, Any] | None:
        actor = staff_actor(request)
        if action == "decrypt":
            return services.kyc_record_read(
                record=record, actor=actor, purpose=f"review: {data['purpose']}"
            )
        if action == "status":
            services.kyc_record_status_set(
                record=record,
                status=data["status"],
                tier=data.get("tier") or None,
                reason=data["reason"],
                actor=actor,
            )
            self.message_user(request, f"{record.kyc_ref} is now {data['status']}")
        elif action == "erase":
            services.kyc_record_erase(record=record, reason=data["reason"], actor=actor)
            self.message_user(request, f"{record.kyc_ref} erased", messages.WARNING)
        return None


def labelled_fields(value: Any, label: str = "") -> list[tuple[str, str]]:
    """A decrypted record as (label, value) rows a reviewer reads: nested fields joined
    ("Name: given"), lists numbered ("Id documents 1: number")."""
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, item in value.items():
            name = str(key).replace("_", " ")
            rows += labelled_fields(item, f"{label}: {name}" if label else name.capitalize())
        return rows
    if isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            return [(label, ", ".join(str(item) for item in value))]
        rows = []
        for n, item in enumerate(value, start=1):
            rows += labelled_fields(item, f"{label} {n}")
        return rows
    return [(label, "" if value is None else str(value))]


@admin.register(ScreeningHit)
class ScreeningHitAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "record",
        "matched_entry_name",
        "entry_source",
        "score",
        "context",
        "status",
        "decided_by",
    )
    list_filter = ("status", "context", "entry__source")
    search_fields = ("record__kyc_ref", "matched_entry_name", "entry__reference")
    readonly_fields = (
        "record",
        "entry",
        "score",
        "matched_entry_name",
        "context",
        "status",
        "decided_by",
        "decided_at",
        "reason",
        "created_at",
    )
    actions = ["clear_hits", "confirm_hits"]

    @admin.display(description="list")
    def entry_source(self, obj: ScreeningHit) -> str:
        return f"{obj.entry.source}:{obj.entry.reference}"

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if not request.user.has_perm("kyc.decide_screeninghit"):
            actions.pop("clear_hits", None)
            actions.pop("confirm_hits", None)
        return actions

    @admin.action(description="Clear selected hits (false positive) with a reason")
    def clear_hits(self, request: HttpRequest, queryset: QuerySet[ScreeningHit]) -> Any:
        return self._decide(request, queryset, ScreeningHit.Decision.CLEARED)

    @admin.action(description="Confirm selected hits (true match: rejects the record)")
    def confirm_hits(self, request: HttpRequest, queryset: QuerySet[ScreeningHit]) -> Any:
        return self._decide(request, queryset, ScreeningHit.Decision.CONFIRMED)

    def _decide(
        self, request: HttpRequest, queryset: QuerySet[ScreeningHit], decision: str
    ) -> HttpResponse | None:
        if not request.user.has_perm("kyc.decide_screeninghit"):
            raise PermissionDenied
        form = ReasonForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            for hit in queryset:
                try:
                    services.screening_hit_decide(
                        hit=hit,
                        decision=decision,
                        reason=form.cleaned_data["reason"],
                        actor=staff_actor(request),
                    )
                except DomainError as exc:
                    self.message_user(request, f"hit {hit.pk}: {exc.detail}", messages.ERROR)
            self.message_user(request, f"{decision} {queryset.count()} hit(s)")
            return None
        return TemplateResponse(
            request,
            "admin/kyc/decide_hits.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"{decision.capitalize()} screening hits",
                "hits": queryset.select_related("entry", "record"),
                "form": form,
                "action": request.POST.get("action"),
                "decision": decision,
            },
        )


@admin.register(KycAccessLog)
class KycAccessLogAdmin(ReadOnlyAdmin):
    list_display = ("at", "record", "action", "actor", "purpose", "order_ref")
    list_filter = ("action",)
    search_fields = ("record__kyc_ref", "actor", "order_ref")
    readonly_fields = list_display


@admin.register(KycStatusChange)
class KycStatusChangeAdmin(ReadOnlyAdmin):
    list_display = ("at", "record", "from_status", "to_status", "from_tier", "to_tier", "actor")
    search_fields = ("record__kyc_ref", "actor")
    readonly_fields = (*list_display, "reason")


@admin.register(KycGrant)
class KycGrantAdmin(ReadOnlyAdmin):
    list_display = ("granted_at", "grant_id", "record", "institution", "purpose", "order_ref")
    list_filter = ("purpose", "institution")
    search_fields = ("grant_id", "record__kyc_ref", "order_ref")
    readonly_fields = list_display


@admin.register(ScreeningEntry)
class ScreeningEntryAdmin(ReadOnlyAdmin):
    list_display = ("source", "reference", "name", "kind", "programs", "active")
    list_filter = ("source", "kind", "active")
    search_fields = ("reference", "name")
    readonly_fields = (
        "list_import",
        "source",
        "reference",
        "kind",
        "name",
        "aliases",
        "original_script_names",
        "programs",
        "details",
        "active",
    )


@admin.register(ScreeningImport)
class ScreeningImportAdmin(ReadOnlyAdmin):
    list_display = ("imported_at", "source", "entries", "file_sha256", "actor")
    readonly_fields = list_display
