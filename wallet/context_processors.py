"""What the one base layout needs on every page: text direction, the language switcher, and
whether the signed-in user is a wallet customer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation


def wallet(request: HttpRequest) -> dict[str, Any]:
    language = translation.get_language() or settings.LANGUAGE_CODE
    return {
        "text_direction": "rtl" if translation.get_language_bidi() else "ltr",
        "current_language": language,
        "wallet_languages": settings.LANGUAGES,
    }
