"""KYC by reference (DESIGN.md §5): encrypted records, who may see them, who did, screening.

Nothing here holds PII in clear. A record's data lives only in `ciphertext` (AES-256-GCM under
the record's own data key, bound to its kyc_ref), the data key only wrapped by a KEK from
configuration. What stays in clear is what orders and statements carry anyway (kyc_ref,
commitment), workflow state (status, tier, hold) and which travel-rule fields are present —
never their values.

Access logs and status changes are append-only, enforced by database triggers (migration 0002).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from institutions.models import Institution


class KycRecord(models.Model):
    class Role(models.TextChoices):
        SENDER = "sender"
        BENEFICIARY = "beneficiary"

    class Status(models.TextChoices):  # SEP-12 customer statuses
        PENDING = "pending"
        VERIFIED = "verified"
        NEEDS_INFO = "needs_info"
        REJECTED = "rejected"

    kyc_ref = models.CharField(max_length=30, unique=True, help_text="kyc_<26 base32 chars>")
    owner = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="kyc_records")
    role = models.CharField(max_length=16, choices=Role.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    tier = models.PositiveSmallIntegerField(default=1)
    screening_hold = models.BooleanField(
        default=False, help_text="A screening hit awaits a compliance decision."
    )
    present_fields = models.JSONField(
        default=list,
        help_text="Names (not values) of the travel-rule fields on record; bound into the AAD.",
    )
    commitment = models.CharField(
        max_length=64, help_text="hex SHA-256 over salt ‖ JCS(data); the salt is encrypted"
    )
    wrapped_data_key = models.BinaryField(null=True, blank=True)
    ciphertext = models.BinaryField(help_text="12-byte nonce ‖ AES-256-GCM(JCS payload)")
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "KYC record"
        permissions = [
            ("decrypt_kycrecord", "Can decrypt a KYC record (audited)"),
            ("review_kycrecord", "Can change a KYC record's status and tier with a reason"),
            ("erase_kycrecord", "Can erase a KYC record (crypto-shredding)"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kyc_ref__regex=r"^kyc_[0-9a-z]{26}$"), name="kyc_ref_format"
            ),
            models.CheckConstraint(
                condition=Q(role__in=["sender", "beneficiary"]), name="kyc_role_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "verified", "needs_info", "rejected"]),
                name="kyc_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(erased_at__isnull=True, wrapped_data_key__isnull=False)
                | Q(erased_at__isnull=False, wrapped_data_key__isnull=True),
                name="kyc_erased_iff_no_key",
            ),
        ]

    def __str__(self) -> str:
        return self.kyc_ref

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None


class KycDocument(models.Model):
    """An uploaded image (passport scan, ID card, selfie), encrypted with its record's data key.
    Kind, filename and content type are inside the ciphertext too."""

    record = models.ForeignKey(KycRecord, on_delete=models.PROTECT, related_name="documents")
    doc_ref = models.CharField(max_length=30, unique=True)
    size = models.PositiveIntegerField()
    ciphertext = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["record_id", "pk"]

    def __str__(self) -> str:
        return self.doc_ref


class KycOrderLink(models.Model):
    """Institutions party to an order may ask for the order's KYC records, for that order."""

    record = models.ForeignKey(KycRecord, on_delete=models.PROTECT, related_name="order_links")
    order_ref = models.CharField(max_length=64)
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["record", "order_ref", "institution"], name="kyc_order_link_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.record_id}/{self.order_ref}/{self.institution_id}"


class KycGrant(models.Model):
    """A record shared with an institution for a purpose and an order."""

    class Purpose(models.TextChoices):
        BENEFICIARY_CHECK = "beneficiary_check"
        TRAVEL_RULE = "travel_rule"
        INVESTIGATION = "investigation"

    grant_id = models.CharField(max_length=40, unique=True)
    record = models.ForeignKey(KycRecord, on_delete=models.PROTECT, related_name="grants")
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=32, choices=Purpose.choices)
    order_ref = models.CharField(max_length=64)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-granted_at"]

    def __str__(self) -> str:
        return self.grant_id


class KycAccessLog(models.Model):
    """Who touched whose record, why, when. Append-only (database triggers), except that
    `denied` rows may be deleted: kyc/retention.py drops them after a year (migration 0004).
    Nothing deletes a `decrypt`, `share` or `erase` row: AML/CFT record keeping."""

    class Action(models.TextChoices):
        DECRYPT = "decrypt"
        SHARE = "share"
        DENIED = "denied"
        ERASE = "erase"

    record = models.ForeignKey(KycRecord, on_delete=models.PROTECT, related_name="access_log")
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.CharField(max_length=96, help_text="service:…, staff:…, institution:…")
    purpose = models.CharField(max_length=64)
    order_ref = models.CharField(max_length=64, blank=True, default="")
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "KYC access log entry"
        verbose_name_plural = "KYC access log"

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.record_id} ({self.purpose})"


class KycStatusChange(models.Model):
    """Every status/tier move of a record, with who and why. Append-only (database triggers)."""

    record = models.ForeignKey(KycRecord, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    from_tier = models.PositiveSmallIntegerField()
    to_tier = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=500)
    actor = models.CharField(max_length=96)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.record_id}: {self.from_status} → {self.to_status}"


class ScreeningImport(models.Model):
    """One import of a sanctions list file; entries of earlier imports of the same source are
    deactivated (kept, because hits refer to them)."""

    class Source(models.TextChoices):
        UN = "un", "UN Security Council consolidated list"
        OFAC = "ofac", "OFAC SDN list"

    source = models.CharField(max_length=8, choices=Source.choices)
    file_sha256 = models.CharField(max_length=64)
    entries = models.PositiveIntegerField(default=0)
    actor = models.CharField(max_length=96)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return f"{self.source} #{self.pk} ({self.entries})"


class ScreeningEntry(models.Model):
    """A listed person or entity (public list data, not customer PII)."""

    list_import = models.ForeignKey(ScreeningImport, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=8, choices=ScreeningImport.Source.choices)
    reference = models.CharField(max_length=64, help_text="UN reference number / OFAC ent_num")
    kind = models.CharField(max_length=16, default="individual")
    name = models.CharField(max_length=300)
    aliases = models.JSONField(default=list, blank=True)
    original_script_names = models.JSONField(default=list, blank=True)
    programs = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True, db_index=True)

    class Meta:
        ordering = ["source", "reference"]
        verbose_name_plural = "screening entries"

    def __str__(self) -> str:
        return f"{self.source}:{self.reference} {self.name}"


class ScreeningHit(models.Model):
    """A record's name matched a list entry above the threshold. One row per (record, entry):
    a cleared decision stands for later screenings; a confirmed one rejects the record."""

    class Decision(models.TextChoices):
        OPEN = "open"
        CLEARED = "cleared"
        CONFIRMED = "confirmed"

    record = models.ForeignKey(KycRecord, on_delete=models.PROTECT, related_name="screening_hits")
    entry = models.ForeignKey(ScreeningEntry, on_delete=models.PROTECT, related_name="hits")
    score = models.DecimalField(max_digits=5, decimal_places=2)
    matched_entry_name = models.CharField(max_length=300, help_text="the list's name that matched")
    context = models.CharField(max_length=32, help_text="record_create or order")
    status = models.CharField(max_length=16, choices=Decision.choices, default=Decision.OPEN)
    decided_by = models.CharField(max_length=96, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("decide_screeninghit", "Can clear or confirm a screening hit")]
        constraints = [
            models.UniqueConstraint(fields=["record", "entry"], name="screening_hit_unique"),
            models.CheckConstraint(
                condition=Q(status="open") | ~Q(reason=""), name="screening_decision_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.record_id} ~ {self.entry_id} ({self.score})"
