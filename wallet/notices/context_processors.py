"""`unread_notices` for the header's badge: the signed-in user's unread notices (0 for a
visitor). Lazy: the count runs only if a template reads it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from wallet.notices.models import Notification


def notices(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_notices": 0}
    return {
        "unread_notices": SimpleLazyObject(
            lambda: Notification.objects.filter(user_id=user.pk, read_at__isnull=True).count()
        )
    }
