"""Opaque staff ids and the console's append-only audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from compliance.models import AuditEvent, StaffId
from kyc.crypto import new_ref


def staff_ref(user: AbstractBaseUser | AnonymousUser) -> str:
    """The user's opaque staff id (`stf_…`), created on first use; never their name."""
    if not user.is_authenticated:
        raise ValueError("staff ids are for signed-in staff")
    row = StaffId.objects.filter(user_id=user.pk).first()
    if row is None:
        row, _ = StaffId.objects.get_or_create(user_id=user.pk, defaults={"ref": new_ref("stf")})
    return row.ref


def audit_record(
    *,
    actor: str,
    action: str,
    object_type: str,
    object_ref: str,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """One line of the console's audit trail (append-only in the database)."""
    return AuditEvent.objects.create(
        actor=actor[:40],
        action=action[:48],
        object_type=object_type[:32],
        object_ref=str(object_ref)[:64],
        detail=detail or {},
    )
