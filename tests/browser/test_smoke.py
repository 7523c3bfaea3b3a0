"""The browser set-up itself: Chromium drives a page of ours, axe-core runs on it."""

from __future__ import annotations

import pytest

from .conftest import PHONE, axe_violations, shot

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_login_page_renders_in_chromium_with_no_axe_violations(live_server, page_at):
    page = page_at(PHONE)
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.locator("input[name=username]").is_visible()
    shot(page, "smoke-login-390")
    assert axe_violations(page) == []
