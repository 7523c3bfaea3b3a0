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
