import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from institutions.models import Corridor, Institution


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "home.html",
        {
            "institutions": Institution.objects.order_by("code"),
            "corridors": Corridor.objects.filter(active=True),
        },
    )


def login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """django-axes' answer to a login attempt for a username locked out from this address
    (AXES_LOCKOUT_CALLABLE; wallet and admin logins alike): a page saying how long, 429."""
    cooloff = settings.AXES_COOLOFF_TIME.total_seconds()
    response = render(
        request,
        "registration/locked_out.html",
        {"cooloff_minutes": math.ceil(cooloff / 60)},
        status=429,
    )
    response["Retry-After"] = str(int(cooloff))
    return response
