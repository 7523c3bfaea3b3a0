"""Wrong passwords on the wallet and admin log-in pages lock that username out from that
address (django-axes): the right password no longer logs in until the cool-off passes or an
operator unlocks it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def lockout_rules(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def _hammer(client: Client, url: str, username: str, times: int = 5) -> None:
    for _ in range(times):
        client.post(url, {"username": username, "password": "not-the-password"})


def test_wallet_login_refuses_the_right_password_after_five_wrong_ones(client):
    get_user_model().objects.create_user("aisha", password="pw-aisha-123")
    _hammer(client, "/accounts/login/", "aisha")

    answer = client.post("/accounts/login/", {"username": "aisha", "password": "pw-aisha-123"})

    assert answer.status_code == 429
    page = answer.content.decode()
    assert "Too many log-in attempts" in page
    assert "15 minutes" in page
    assert "Traceback" not in page
    assert answer["Retry-After"] == "900"
    assert "_auth_user_id" not in client.session
    assert client.get("/wallet/").status_code == 302  # still sent to the log-in page


def test_lockout_is_per_username_and_address(client):
    get_user_model().objects.create_user("aisha", password="pw-aisha-123")
    get_user_model().objects.create_user("bilal", password="pw-bilal-123")
    _hammer(client, "/accounts/login/", "aisha")

    # the same user from another address, and another user from this one, still log in
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    mine = elsewhere.post("/accounts/login/", {"username": "aisha", "password": "pw-aisha-123"})
    assert mine.status_code == 302
    other = client.post("/accounts/login/", {"username": "bilal", "password": "pw-bilal-123"})
    assert other.status_code == 302


def test_admin_login_locks_out_too(client):
    get_user_model().objects.create_superuser("operator", password="operator-pass-123")
    _hammer(client, "/admin/login/", "operator")

    answer = client.post(
        "/admin/login/?next=/admin/", {"username": "operator", "password": "operator-pass-123"}
    )

    assert answer.status_code == 429
    assert "Too many log-in attempts" in answer.content.decode()
    assert client.get("/admin/").status_code == 302


def test_operators_see_the_attempts_in_the_admin_and_can_unlock(client):
    get_user_model().objects.create_user("aisha", password="pw-aisha-123")
    _hammer(client, "/accounts/login/", "aisha")
    operator = get_user_model().objects.create_superuser("operator", password="op-pass-123")
    staff = Client()
    staff.force_login(operator)

    attempts = staff.get("/admin/axes/accessattempt/")
    assert attempts.status_code == 200
    assert "aisha" in attempts.content.decode()
    failures = staff.get("/admin/axes/accessfailurelog/")
    assert failures.content.decode().count("aisha") >= 5

    call_command("axes_reset_username", "aisha")
    answer = client.post("/accounts/login/", {"username": "aisha", "password": "pw-aisha-123"})
    assert answer.status_code == 302
    assert "_auth_user_id" in client.session
