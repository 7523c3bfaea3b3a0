"""Every page carries a Content-Security-Policy that forbids inline script, plugins, framing,
foreign form targets and <base> tricks; the wallet, the admin and Swagger UI work under it
(no inline <script> left on them)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from remittance.models import Customer

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no CSP on {response.request['PATH_INFO']}"
    directives = (part.strip().split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[int] = []
        self.external: list[str] = []
        self.handler_attributes: list[str] = []
        self._open_inline = False

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        attributes = dict(attrs)
        self.handler_attributes += [name for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            if attributes.get("src"):
                self.external.append(attributes["src"])
            else:
                self._open_inline = True

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._open_inline and data.strip():
            self.inline.append(len(data))

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag == "script":
            self._open_inline = False


def _scripts(response) -> _Scripts:
    parser = _Scripts()
    parser.feed(response.content.decode())
    return parser


def _assert_strict(response) -> None:
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    scripts = _scripts(response)
    assert scripts.inline == [], "inline <script> would be blocked by the policy"
    assert scripts.handler_attributes == [], "on* handlers would be blocked by the policy"
    assert all(src.startswith("/") for src in scripts.external)


@pytest.fixture
def wallet_user(network):
    user = get_user_model().objects.create_user("aisha", password="pw-aisha-123")
    Customer.objects.create(user=user, institution=network.valyou.institution)
    return user


def test_wallet_pages_carry_the_policy_and_no_inline_script(client, wallet_user):
    _assert_strict(client.get("/"))
    _assert_strict(client.get("/accounts/login/"))
    client.force_login(wallet_user)
    _assert_strict(client.get("/wallet/"))


def test_admin_pages_carry_the_policy_and_no_inline_script(client):
    _assert_strict(client.get("/admin/login/"))
    operator = get_user_model().objects.create_superuser("operator", password="op-pass-123")
    client.force_login(operator)
    _assert_strict(client.get("/admin/"))
    _assert_strict(client.get("/admin/auth/user/"))
    _assert_strict(client.get(f"/admin/auth/user/{operator.pk}/change/"))


def test_swagger_ui_carries_the_policy_and_loads_its_init_script_from_a_url():
    client = Client()
    page = client.get("/api/v1/docs/")
    _assert_strict(page)
    init = [src for src in _scripts(page).external if "script" in src.partition("?")[2]]
    assert init, "Swagger UI's init script must come from its own URL"
    script = client.get(init[0])
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


def test_api_answers_carry_the_policy_too(client):
    assert _policy(client.get("/api/v1/orders"))["default-src"] == ["'self'"]
