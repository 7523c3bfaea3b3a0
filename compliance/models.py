"""The compliance console (docs/compliance.md): staff ids, four-eyes proposals, monitoring
rules, alerts, cases with notes and encrypted evidence, re-screening runs, and an append-only
audit trail of everything done here.

Nothing here is customer PII in clear: orders and parties are named by id and `kyc_ref`;
evidence files are encrypted like KYC documents (kyc.crypto); free-text notes are staff work
product kept inside the hub (never on the ledger, in logs or webhooks)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class StaffId(models.Model):
    """The opaque id a staff member is known by outside the hub's user table (the ledger's
    decision statements, reports): `stf_` + 26 base32 characters, never a name."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff_id"
    )
    ref = models.CharField(max_length=30, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.ref


class ProposalKind(models.TextChoices):
    ORDER_RELEASE = "order_release", "Release a held order"
    ORDER_REJECT = "order_reject", "Reject a held order and refund"
    WINDOW_SETTLE = "window_settle", "Settle a settlement window"
    LIQUIDITY_LIMIT = "liquidity_limit", "Change a liquidity limit"
    KYC_STATUS = "kyc_status", "Verify or reject KYC above tier 0"
    SANCTIONS_LIST = "sanctions_list", "Load a sanctions list"


class ProposalStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"


class Proposal(models.Model):
    """Maker-checker: one person proposes a decision with a reason, another with the right
    role approves it (which runs it) or rejects it. Expires at `expires_at`."""

    ref = models.CharField(max_length=30, unique=True)
    kind = models.CharField(max_length=24, choices=ProposalKind.choices)
    target = models.CharField(max_length=64, help_text="what it acts on: order id, window id…")
    params = models.JSONField(default=dict, blank=True)
    attachment = models.BinaryField(null=True, blank=True, editable=False)
    reason = models.CharField(max_length=500)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True, default="")
    outcome = models.CharField(max_length=300, blank=True, default="")
    statement_ref = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-proposed_at"]
        permissions = [
            ("propose_order_decision", "Can propose releasing or rejecting a held order"),
            ("approve_order_decision", "Can approve releasing or rejecting a held order"),
            ("propose_settlement", "Can propose settling a window or changing a limit"),
            ("approve_settlement", "Can approve settling a window or changing a limit"),
            ("propose_kyc_decision", "Can propose verifying or rejecting KYC above tier 0"),
            ("approve_kyc_decision", "Can approve verifying or rejecting KYC above tier 0"),
            ("propose_sanctions_list", "Can upload a sanctions list for approval"),
            ("approve_sanctions_list", "Can approve loading a sanctions list"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="proposal_has_reason"),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("proposed_by")),
                name="proposal_four_eyes",
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="proposal_status_exp")]

    def __str__(self) -> str:
        return f"{self.ref} {self.get_kind_display()} {self.target}"


class Typology(models.Model):
    """A family of suspicious behaviour; its rules' scores add up against two thresholds:
    `review` (the order proceeds, an alert is raised) and `interdict` (the order is held
    before the receiving bank is told)."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    review_score = models.PositiveIntegerField(default=50)
    interdict_score = models.PositiveIntegerField(default=100)

    class Meta:
        verbose_name_plural = "typologies"
        constraints = [
            models.CheckConstraint(
                condition=Q(interdict_score__gt=models.F("review_score")),
                name="typology_thresholds_ordered",
            )
        ]

    def __str__(self) -> str:
        return self.name


class RuleKind(models.TextChoices):
    VELOCITY_COUNT = "velocity_count", "Velocity: number of transfers in a window"
    VELOCITY_AMOUNT = "velocity_amount", "Velocity: amount sent in a window"
    STRUCTURING = "structuring", "Structuring: repeated amounts just under a threshold"
    ROUND_AMOUNT = "round_amount", "Round amount"
    NEW_RECIPIENT_LARGE = "new_recipient_large", "New recipient receiving a large first transfer"
    FAN_IN = "fan_in", "Many senders to one beneficiary"
    FAN_OUT = "fan_out", "One sender to many beneficiaries"
    HISTORY_OUTLIER = "history_outlier", "Amount far above the customer's history"
    NEAR_MISS = "near_miss", "Sanctions/PEP near-miss"


class Rule(models.Model):
    """A monitoring rule as data: its kind's parameters (docs/compliance.md lists them), the
    score it adds to its typology when it fires, and a description staff can read. Every
    save is a new version (RuleVersion keeps each one; alerts cite the version that fired)."""

    code = models.SlugField(max_length=48, unique=True)
    kind = models.CharField(max_length=24, choices=RuleKind.choices)
    typology = models.ForeignKey(Typology, on_delete=models.PROTECT, related_name="rules")
    params = models.JSONField(default=dict, blank=True)
    score = models.PositiveIntegerField()
    description = models.CharField(max_length=500)
    enabled = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["typology__code", "code"]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


class RuleVersion(models.Model):
    """Each saved version of a rule, as it was (append-only)."""

    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=24)
    typology = models.CharField(max_length=32)
    params = models.JSONField(default=dict)
    score = models.PositiveIntegerField()
    description = models.CharField(max_length=500)
    enabled = models.BooleanField()
    saved_by = models.CharField(max_length=40)
    saved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rule_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "version"], name="rule_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.version}"


class AlertStatus(models.TextChoices):
    OPEN = "open"
    DISMISSED = "dismissed"
    ESCALATED = "escalated"


class Alert(models.Model):
    """Something for an officer to look at: an order that scored over a typology's review or
    interdict threshold, or a sanctions hit from re-screening."""

    class Source(models.TextChoices):
        MONITORING = "monitoring"
        SCREENING = "screening"

    class Action(models.TextChoices):
        REVIEW = "review"
        INTERDICT = "interdict"

    ref = models.CharField(max_length=30, unique=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    action = models.CharField(max_length=16, choices=Action.choices)
    order_id = models.UUIDField(null=True, blank=True, db_index=True)
    kyc_ref = models.CharField(max_length=40, blank=True, default="", db_index=True)
    typology = models.CharField(max_length=32, blank=True, default="")
    score = models.PositiveIntegerField(default=0)
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    findings = models.JSONField(default=list, help_text="rule code, version, score, why")
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default="open")
    case = models.ForeignKey(
        "Case", on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    triaged_by = models.CharField(max_length=40, blank=True, default="")
    triage_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("triage_alert", "Can dismiss or escalate an alert")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open") | ~Q(triage_reason=""), name="alert_triage_has_reason"
            )
        ]

    def __str__(self) -> str:
        return self.ref


class CaseStatus(models.TextChoices):
    OPEN = "open"
    INVESTIGATING = "investigating"
    REPORTED = "reported", "reported to the FIU"
    CLOSED = "closed", "closed, no report"


class Case(models.Model):
    """An investigation grouping alerts, orders and customers (by kyc_ref)."""

    ref = models.CharField(max_length=30, unique=True)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default="open")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    deadline = models.DateField(null=True, blank=True)
    order_ids = models.JSONField(default=list, blank=True)
    kyc_refs = models.JSONField(default=list, blank=True)
    decision = models.CharField(max_length=500, blank=True, default="")
    opened_by = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("work_case", "Can open, assign, annotate and decide cases"),
            ("file_report", "Can export a case as a report to the FIU"),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"


class CaseNote(models.Model):
    """A note on a case (append-only)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="notes")
    author = models.CharField(max_length=40, help_text="opaque staff id")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"note {self.pk} on {self.case_id}"


class CaseEvidence(models.Model):
    """A file attached to a case, encrypted like a KYC document: its own data key (wrapped by
    the KEK, bound to `doc_ref`), AES-256-GCM with associated data naming case and file.
    Filename and content type are inside the ciphertext."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="evidence")
    doc_ref = models.CharField(max_length=30, unique=True)
    size = models.PositiveIntegerField()
    wrapped_data_key = models.BinaryField()
    ciphertext = models.BinaryField()
    added_by = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "case evidence"

    def __str__(self) -> str:
        return self.doc_ref


class RescreenRun(models.Model):
    """Re-screening every customer record and open order against a new list version."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    list_import_id = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default="queued")
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    hits = models.PositiveIntegerField(default=0)
    alerts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"re-screen #{self.pk} ({self.done}/{self.total})"

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.done / self.total)


class AuditEvent(models.Model):
    """Everything done in the console, who (opaque staff id) and what. Append-only
    (database triggers)."""

    actor = models.CharField(max_length=40)
    action = models.CharField(max_length=48)
    object_type = models.CharField(max_length=32)
    object_ref = models.CharField(max_length=64)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_ref}"
