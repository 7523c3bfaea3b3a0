"""Languages and local time: the page's language and direction follow the visitor's browser,
then their choice (remembered on their profile, so it follows them to another device); every
catalog compiles with Babel alone; times are Malaysia's unless the customer chose another."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings

from wallet.models import WalletProfile
from wallet.translations import catalogs, compile_catalog

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("lang", "direction", "text"),
    [
        ("en", "ltr", "What it costs"),
        ("ms", "ltr", "Berapa kosnya"),
        ("ur", "rtl", "کتنا خرچ آئے گا"),
    ],
)
def test_home_page_in_each_language(client, corridor, lang, direction, text):
    page = client.get("/", headers={"Accept-Language": lang}).content.decode()
    assert f'<html lang="{lang}" dir="{direction}">' in page
    assert text in page


def test_the_switcher_remembers_the_choice_on_the_profile(client, corridor, wallet_customer):
    assert client.login(username="aisha", password="pw-aisha-123")
    response = client.post("/wallet/language", {"language": "ur", "next": "/wallet/"})
    assert response.status_code == 302 and response["Location"] == "/wallet/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ur"
    assert WalletProfile.objects.get(user=wallet_customer.user).language == "ur"
    client.cookies.clear()  # another device: only the login carries the choice
    assert client.login(username="aisha", password="pw-aisha-123")
    page = client.get("/wallet/", headers={"Accept-Language": "en"}).content.decode()
    assert 'dir="rtl"' in page


def test_the_switcher_refuses_an_outside_redirect(client, corridor):
    response = client.post("/wallet/language", {"language": "ms", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_every_catalog_is_complete_and_compiles_with_babel(tmp_path):
    found = {Path(p).parent.parent.name for p in catalogs()}
    assert found == {"ms", "ur"}
    for po in catalogs():
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        customer_strings = [m for m in catalog if m.id and "Django" not in str(m.id)]
        untranslated = [m.id for m in customer_strings if not m.string or not all(m.string)]
        assert untranslated == [], f"{po}: {untranslated[:5]}"
        copy = tmp_path / po.parent.parent.name / "LC_MESSAGES" / "django.po"
        copy.parent.mkdir(parents=True)
        copy.write_bytes(po.read_bytes())
        assert compile_catalog(copy).stat().st_size > 1000


def test_times_are_shown_in_malaysia_time_by_default(client, corridor, wallet_customer):
    from datetime import UTC, datetime

    from django.template import Context, Template
    from django.utils import timezone

    assert client.login(username="aisha", password="pw-aisha-123")
    client.get("/wallet/")  # the middleware activates the zone per request; here by hand:
    timezone.activate(settings.WALLET_DEFAULT_TIME_ZONE)
    try:
        rendered = Template("{% load wallet_format %}{{ at|when }} {% zone_name %}").render(
            Context({"at": datetime(2026, 12, 2, 1, 30, tzinfo=UTC)})
        )
    finally:
        timezone.deactivate()
    assert "9:30:00" in rendered and rendered.endswith("MYT")


def test_a_customer_chooses_the_zone_their_times_are_shown_in(client, corridor, wallet_customer):
    assert client.login(username="aisha", password="pw-aisha-123")
    refused = client.post("/wallet/security", {"time_zone": "Mars/Olympus"}).content.decode()
    assert "Choose a time zone from the list." in refused
    client.post("/wallet/security", {"time_zone": "Asia/Karachi"})
    assert WalletProfile.objects.get(user=wallet_customer.user).time_zone == "Asia/Karachi"
    page = client.get("/wallet/security").content.decode()
    assert '<option value="Asia/Karachi" selected>' in page
