"""Per wallet user: their language and time zone for this request, and the end of sessions
they ended everywhere. One small query per authenticated request."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone, translation

from wallet.models import WalletProfile

LOGIN_AT = "wallet_login_at"


@receiver(user_logged_in)
def _remember_login_time(
    sender: object, request: HttpRequest | None, user: object, **_: object
) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[LOGIN_AT] = timezone.now().isoformat()


class WalletUserMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = settings.WALLET_DEFAULT_TIME_ZONE
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            profile = WalletProfile.objects.filter(user_id=user.pk).first()
            if profile is not None:
                if profile.sessions_valid_after is not None:
                    logged_in = request.session.get(LOGIN_AT)
                    if logged_in is None or (
                        datetime.fromisoformat(logged_in) < profile.sessions_valid_after
                    ):
                        logout(request)
                        return redirect(settings.LOGIN_URL)
                if profile.language and profile.language in dict(settings.LANGUAGES):
                    translation.activate(profile.language)
                    request.LANGUAGE_CODE = profile.language
                zone = profile.time_zone or zone
        try:
            timezone.activate(zoneinfo.ZoneInfo(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.activate(zoneinfo.ZoneInfo(settings.WALLET_DEFAULT_TIME_ZONE))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
