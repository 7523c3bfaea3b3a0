"""Webhook URLs must reach the public internet (institutions/urlsafety.py): the rule table,
the partner API's 422 `webhook_url_refused`, and the check again before every attempt (DNS
rebinding), which fails the attempt like a network error with nothing sent."""

from __future__ import annotations

import socket
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from institutions import services_webhooks as hooks
from institutions.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from institutions.urlsafety import WebhookHostUnresolvable, WebhookUrlRefused, webhook_url_check

PUBLIC_V4, PUBLIC_V6 = "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"


class FakeDns:
    """socket.getaddrinfo answering from a table; an unknown name does not resolve."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, **answers: list[str]) -> None:
        self.answers = {name.replace("_", "."): addresses for name, addresses in answers.items()}
        self.asked: list[str] = []
        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port, 0, 0) if ":" in address else (address, port),
            )
            for address in self.answers[host]
        ]


def rule_of(url: str, *, allow_private: bool = False) -> str | None:
    try:
        webhook_url_check(url, allow_private=allow_private)
    except WebhookUrlRefused as refused:
        return refused.rule
    return None


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        # public: accepted
        ("https://8.8.8.8/hooks", None),
        (f"https://{PUBLIC_V4}:8443/hooks?token=abc", None),
        ("https://[2606:4700:4700::1111]/hooks", None),
        ("https://[::ffff:8.8.8.8]/hooks", None),  # IPv4-mapped public
        ("https://[64:ff9b::808:808]/hooks", None),  # NAT64 of a public address
        # the URL itself
        ("http://8.8.8.8/hooks", "scheme"),
        ("ftp://8.8.8.8/hooks", "scheme"),
        ("https://user:pw@8.8.8.8/hooks", "userinfo"),
        ("https://token@8.8.8.8/hooks", "userinfo"),
        ("https:///hooks", "host"),
        ("https://[::1/hooks", "host"),
        ("https://8.8.8.8:99999/hooks", "port"),
        # loopback
        ("https://127.0.0.1/hooks", "loopback"),
        ("https://127.9.9.9/hooks", "loopback"),
        ("https://[::1]/hooks", "loopback"),
        ("https://[::ffff:127.0.0.1]/hooks", "loopback"),
        ("https://[2002:7f00:1::1]/hooks", "loopback"),  # 6to4 of 127.0.0.1
        # private: RFC 1918, unique-local, CGNAT
        ("https://10.1.2.3/hooks", "private"),
        ("https://172.16.0.1/hooks", "private"),
        ("https://172.31.255.254/hooks", "private"),
        ("https://192.168.1.1/hooks", "private"),
        ("https://100.64.0.1/hooks", "private"),
        ("https://100.127.255.254/hooks", "private"),
        ("https://[fd00:ec2::254]/hooks", "private"),
        ("https://[fc00::1]/hooks", "private"),
        ("https://[::ffff:10.0.0.1]/hooks", "private"),
        # link-local, cloud metadata included
        ("https://169.254.169.254/latest/meta-data/", "link_local"),
        ("https://[fe80::1]/hooks", "link_local"),
        ("https://[::ffff:169.254.169.254]/hooks", "link_local"),
        ("https://[64:ff9b::a9fe:a9fe]/hooks", "link_local"),  # NAT64 of 169.254.169.254
        # multicast, unspecified, reserved and other non-global ranges
        ("https://224.0.0.1/hooks", "multicast"),
        ("https://239.255.255.250/hooks", "multicast"),
        ("https://[ff02::1]/hooks", "multicast"),
        ("https://0.0.0.0/hooks", "unspecified"),
        ("https://[::]/hooks", "unspecified"),
        ("https://240.0.0.1/hooks", "reserved"),
        ("https://255.255.255.255/hooks", "reserved"),
        ("https://0.1.2.3/hooks", "reserved"),
        ("https://192.0.2.1/hooks", "reserved"),  # documentation
        ("https://198.18.0.1/hooks", "reserved"),  # benchmarking
        ("https://[2001:db8::1]/hooks", "reserved"),  # documentation
        ("https://[::127.0.0.1]/hooks", "reserved"),  # IPv4-compatible (deprecated)
    ],
)
def test_ip_literals(url, rule, monkeypatch):
    dns = FakeDns(monkeypatch)
    assert rule_of(url) == rule
    assert dns.asked == []  # a literal is judged as written, without a lookup


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("https://hooks.bank.example/in", None),
        ("https://dual.bank.example/in", None),
        ("https://HOOKS.Bank.Example./in", None),
        ("https://localhost/in", "loopback"),
        ("https://internal.bank.example/in", "private"),
        ("https://mixed.bank.example/in", "private"),  # one bad answer is enough
        ("https://metadata.google.internal/computeMetadata/v1/", "link_local"),
        ("https://v6only.bank.example/in", "private"),
        ("https://nowhere.bank.example/in", "unresolvable"),
    ],
)
def test_host_names_are_judged_by_every_address_they_resolve_to(url, rule, monkeypatch):
    FakeDns(
        monkeypatch,
        hooks_bank_example=[PUBLIC_V4],
        dual_bank_example=[PUBLIC_V4, PUBLIC_V6],
        **{"hooks.bank.example.": [PUBLIC_V4]},  # urlsplit lowercases; the dot stays
        localhost=["127.0.0.1", "::1"],
        internal_bank_example=["10.20.30.40"],
        mixed_bank_example=[PUBLIC_V4, "192.168.0.10"],
        metadata_google_internal=["169.254.169.254"],
        v6only_bank_example=["fd12:3456::1"],
    )
    assert rule_of(url) == rule


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1", "017700000001"])
def test_numeric_host_spellings_are_judged_as_the_address_they_connect_to(host):
    """No DNS involved: the resolver parses these itself, as the HTTP client's would."""
    assert rule_of(f"https://{host}/hooks") == "loopback"


def test_an_unresolvable_host_is_its_own_refusal(monkeypatch):
    FakeDns(monkeypatch)
    with pytest.raises(WebhookHostUnresolvable):
        webhook_url_check("https://nowhere.bank.example/in", allow_private=True)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://127.0.0.1:9/webhooks", None),
        ("http://localhost:8100/webhooks", None),
        ("http://[::1]:8100/webhooks", None),
        ("https://10.1.2.3/hooks", None),
        ("http://172.18.0.5:8100/webhooks", None),  # a compose service
        ("https://[fd00::1]/hooks", None),
        ("http://100.64.0.1/hooks", None),
        ("https://8.8.8.8/hooks", None),
        # never, even on a development hub
        ("ftp://127.0.0.1/hooks", "scheme"),
        ("http://user:pw@127.0.0.1/hooks", "userinfo"),
        ("http://169.254.169.254/latest/meta-data/", "link_local"),
        ("http://[fe80::1]/hooks", "link_local"),
        ("http://0.0.0.0:8100/hooks", "unspecified"),
        ("http://224.0.0.1/hooks", "multicast"),
        ("http://192.0.2.1/hooks", "reserved"),
    ],
)
def test_allowing_private_urls_allows_http_loopback_and_private_only(url, rule, monkeypatch):
    FakeDns(monkeypatch, localhost=["127.0.0.1", "::1"])
    assert rule_of(url, allow_private=True) == rule


def test_the_setting_decides_by_default(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    webhook_url_check("http://127.0.0.1:9/webhooks")
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with pytest.raises(WebhookUrlRefused) as refused:
        webhook_url_check("https://127.0.0.1:9/webhooks")
    assert refused.value.rule == "loopback"


# --- registration through the partner API ------------------------------------------------


def post(member, body: dict, key: str = "k1"):
    return member.client().post(
        "/api/v1/webhook-endpoints", body, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.fixture
def production_policy(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False


@pytest.mark.parametrize(
    ("url", "rule", "says"),
    [
        ("https://169.254.169.254/latest/meta-data/", "link_local", "link-local"),
        ("https://127.0.0.1:8000/admin/", "loopback", "loopback"),
        ("http://hooks.bank.example/in", "scheme", "https"),
        ("https://internal.bank.example/in?token=s3cr3t-t0ken", "private", "private"),
    ],
)
@pytest.mark.django_db
def test_registering_a_refused_url_is_a_422_problem_naming_the_rule(
    network, production_policy, monkeypatch, url, rule, says
):
    FakeDns(monkeypatch, hooks_bank_example=[PUBLIC_V4], internal_bank_example=["10.9.8.7"])

    response = post(network.tmb, {"url": url})

    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "webhook_url_refused" and problem["rule"] == rule
    assert problem["type"].endswith("/webhook_url_refused")
    assert says in problem["detail"]
    for leak in ("s3cr3t", "10.9.8.7", url):
        assert leak not in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
    again = post(network.tmb, {"url": url})  # the refusal is replayed, not re-run
    assert again.status_code == 422 and again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_registering_a_public_url_works_and_a_not_yet_resolvable_one_too(
    network, production_policy, monkeypatch
):
    dns = FakeDns(monkeypatch, hooks_bank_example=[PUBLIC_V4])

    public = post(network.tmb, {"url": "https://hooks.bank.example/in"}, key="k1")
    later = post(network.tmb, {"url": "https://soon.bank.example/in"}, key="k2")

    assert public.status_code == 201 and later.status_code == 201, later.content
    assert dns.asked == ["hooks.bank.example", "soon.bank.example"]
    assert WebhookEndpoint.objects.count() == 2


# --- the check before every attempt --------------------------------------------------------


@pytest.fixture(autouse=True)
def private_cache(settings):
    """The sender's coalescing flag lives in the cache; keep it away from other processes."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.mark.django_db
def test_a_host_that_rebinds_to_a_private_address_is_not_sent_to_and_is_retried(
    network, production_policy, monkeypatch
):
    dns = FakeDns(monkeypatch, hooks_bank_example=[PUBLIC_V4])
    created = post(network.tmb, {"url": "https://hooks.bank.example/in"})
    assert created.status_code == 201
    endpoint = WebhookEndpoint.objects.get(pk=created.json()["id"])
    dns.answers["hooks.bank.example"] = ["10.0.0.7"]  # after registration: DNS rebinding
    sent: list[str] = []

    def stream(self, method, url, **kwargs):
        sent.append(str(url))
        raise httpx.ConnectError("the test has no network")

    monkeypatch.setattr(httpx.Client, "stream", stream)
    delivery = WebhookDelivery.objects.create(
        message_id="msg_rebinding0001",
        institution=network.tmb.institution,
        endpoint=endpoint,
        url=endpoint.url,
        event_type="order.submitted",
        payload='{"type":"order.submitted"}',
        next_attempt_at=timezone.now(),
    )

    before = timezone.now()
    assert hooks.webhook_deliveries_send() == 1

    assert sent == []
    (attempt,) = WebhookAttempt.objects.filter(delivery=delivery)
    assert attempt.status_code is None and attempt.error == "WebhookUrlRefused: private"
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.retry_step == 1
    assert delivery.next_attempt_at >= before + hooks.RETRY_DELAYS[0]
    assert "WebhookUrlRefused: private" in delivery.outcome

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    dns.answers["hooks.bank.example"] = [PUBLIC_V4]  # rebound back: the next retry sends
    assert hooks.webhook_deliveries_send() == 1
    assert sent == ["https://hooks.bank.example/in"]
    delivery.refresh_from_db()
    assert delivery.retry_step == 2 and "ConnectError" in delivery.outcome
    assert delivery.next_attempt_at > timezone.now() + timedelta(minutes=4)


@pytest.mark.django_db
def test_the_admin_refuses_a_private_webhook_url_like_the_api(network, admin_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    form = {
        "institution": network.tmb.institution.pk,
        "url": "https://169.254.169.254/latest/meta-data",
        "event_types": "[]",
        "enabled": "on",
    }

    page = admin_client.post("/admin/institutions/webhookendpoint/add/", form)

    assert page.status_code == 200  # the form again, with the error
    assert "link-local" in page.content.decode() or "not public" in page.content.decode()
    assert not WebhookEndpoint.objects.filter(url=form["url"]).exists()

    form["url"] = "https://93.184.216.34/hooks"  # a public address: accepted
    page = admin_client.post("/admin/institutions/webhookendpoint/add/", form)
    assert page.status_code == 302
    assert WebhookEndpoint.objects.filter(url=form["url"]).exists()
