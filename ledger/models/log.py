"""The shared signed log (DESIGN.md §4).

Writers queue statements (`QueuedStatement`) inside their own transaction; one integrator at a
time moves them into `Entry` with contiguous `seq`, writes the perfect-subtree hashes
(`TreeNode`) that make every proof O(log n) reads, and publishes a `Checkpoint`. Entries, nodes,
checkpoints and cosignatures are append-only, enforced by database triggers (migration 0002).
"""

from __future__ import annotations

from django.db import models


class QueuedStatement(models.Model):
    """A verified, signed statement waiting for a seq. Deleted once integrated; its id lives on
    as `Entry.statement_ref`, so a business row can find the seq its statement got."""

    statement = models.BinaryField(help_text="JCS bytes of the statement, exactly as signed")
    signature = models.BinaryField(max_length=64)
    kind = models.CharField(max_length=64)
    signer = models.CharField(max_length=32)
    subject = models.CharField(max_length=64, blank=True, default="")
    queued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"queued {self.kind} by {self.signer}"


class Entry(models.Model):
    """A leaf of the log. `leaf` is the canonical entry JSON — the exact Merkle leaf data."""

    seq = models.BigIntegerField(primary_key=True)
    leaf = models.BinaryField()
    kind = models.CharField(max_length=64)
    signer = models.CharField(max_length=32)
    key_id = models.CharField(max_length=16)
    subject = models.CharField(max_length=64, blank=True, default="", db_index=True)
    statement_ref = models.BigIntegerField(unique=True)
    integrated_at = models.DateTimeField()

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(condition=models.Q(seq__gte=0), name="entry_seq_gte_0")
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} by {self.signer}"


class TreeNode(models.Model):
    """Hash of a perfect aligned subtree: leaves [index·2^level, (index+1)·2^level), level ≥ 1.
    Written once, when the subtree becomes complete. Leaf hashes (level 0) are not stored:
    they are SHA-256(0x00 ‖ Entry.leaf), computed when a proof needs one."""

    pk = models.CompositePrimaryKey("level", "index")
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class Checkpoint(models.Model):
    """An operator-signed C2SP checkpoint (signed note) for a tree size."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.BinaryField(max_length=32)
    frontier = models.BinaryField(
        help_text="compact range of the tree at this size: one 32-byte hash per set bit of "
        "tree_size, largest subtree first; lets the integrator resume without reading TreeNode"
    )
    body = models.TextField(help_text="checkpoint text: origin, size, root (signed message)")
    signature_line = models.TextField()
    key_id = models.CharField(max_length=16, help_text="the operator's Ed25519 key id (§4)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-tree_size"]
        get_latest_by = "tree_size"

    def __str__(self) -> str:
        return f"checkpoint @{self.tree_size}"

    @property
    def note(self) -> str:
        return self.body + "\n" + self.signature_line


class Cosignature(models.Model):
    """A witness's C2SP tlog-cosignature on a checkpoint."""

    checkpoint = models.ForeignKey(
        Checkpoint, on_delete=models.PROTECT, related_name="cosignatures"
    )
    institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="+"
    )
    key_id = models.CharField(max_length=16)
    timestamp = models.BigIntegerField()
    signature_line = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["checkpoint_id", "institution_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["checkpoint", "institution"], name="one_cosig_per_witness"
            )
        ]

    def __str__(self) -> str:
        return f"cosignature by {self.institution_id} on {self.checkpoint_id}"


class Witness(models.Model):
    """A partner bank that witnesses the log: it keeps its own verified copy and cosigns
    checkpoints (partner_sdk/witness.py). The hub expects its cosignatures and raises an alert
    when it lags. Its latest cosigned checkpoint is kept here, moved forward by each
    cosignature, so that lag is one read rather than an aggregate over every cosignature."""

    institution = models.OneToOneField(
        "institutions.Institution",
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="witness",
    )
    last_checkpoint = models.ForeignKey(
        Checkpoint, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_cosigned_size = models.BigIntegerField(
        null=True, blank=True, help_text="tree size of the latest checkpoint it cosigned"
    )
    last_cosigned_at = models.DateTimeField(null=True, blank=True)
    lag_alert_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="set while it lags more than LEDGER_WITNESS_LAG_ALERT_SECONDS",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["institution_id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(last_cosigned_size__isnull=True)
                | models.Q(last_cosigned_size__gte=0),
                name="witness_size_gte_0",
            )
        ]

    def __str__(self) -> str:
        return f"witness {self.institution_id}"
