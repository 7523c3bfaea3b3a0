"""Webhook URLs must reach the public internet (webhooks/urlsafety.py): the rule table,
the partner API's 422 `webhook_url_refused`, and the check again when the sender connects (DNS
rebinding), which fails the attempt like a network error with nothing sent; the connection goes
to the address that was checked (DNS pinning), with TLS still verified on the host name."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from webhooks import services as hooks
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.urlsafety import WebhookHostUnresolvable, WebhookUrlRefused, webhook_url_check

PUBLIC_V4, PUBLIC_V6 = "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"


class FakeDns:
    """socket.getaddrinfo answering from a table; an unknown name does not resolve."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, **answers: list[str]) -> None:
        self.answers = {name.replace("_", "."): addresses for name, addresses in answers.items()}
        self.asked: list[str] = []
        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        try:  # a numeric address answers itself, without a lookup, as the real resolver's does
            return _answer(str(ipaddress.ip_address(host)), port)
        except ValueError:
            pass
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [answer for address in self.answers[host] for answer in _answer(address, port)]


def _answer(address: str, port: int) -> list[tuple]:
    return [
        (
            socket.AF_INET6 if ":" in address else socket.AF_INET,
            socket.SOCK_STREAM,
            6,
            "",
            (address, port, 0, 0) if ":" in address else (address, port),
        )
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


class Network:
    """The hub's sockets in a test: connections to loopback go through (test receivers listen
    there), any other is refused and recorded as (address, port) — the tests have no internet."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.refused: list[tuple[str, int]] = []
        real_connect = socket.socket.connect

        def connect(sock: socket.socket, address) -> None:
            if ipaddress.ip_address(address[0]).is_loopback:
                return real_connect(sock, address)
            self.refused.append((address[0], address[1]))
            raise ConnectionRefusedError("the test has no network")

        monkeypatch.setattr(socket.socket, "connect", connect)


def queued(network, url: str) -> WebhookDelivery:
    """A due delivery to a fresh endpoint at `url` (stored as if registered long ago)."""
    endpoint, _ = hooks.webhook_endpoint_create(institution=network.tmb.institution, url=url)
    return WebhookDelivery.objects.create(
        message_id=f"msg_pinning{endpoint.pk:08d}",
        institution=network.tmb.institution,
        endpoint=endpoint,
        url=url,
        event_type="order.submitted",
        payload='{"type":"order.submitted"}',
        next_attempt_at=timezone.now(),
    )


@pytest.mark.django_db
def test_a_host_that_rebinds_to_a_private_address_is_not_sent_to_and_is_retried(
    network, production_policy, monkeypatch
):
    dns = FakeDns(monkeypatch, hooks_bank_example=[PUBLIC_V4])
    created = post(network.tmb, {"url": "https://hooks.bank.example/in"})
    assert created.status_code == 201
    endpoint = WebhookEndpoint.objects.get(pk=created.json()["id"])
    dns.answers["hooks.bank.example"] = ["10.0.0.7"]  # after registration: DNS rebinding
    net = Network(monkeypatch)
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

    assert net.refused == []  # no connection was even tried
    (attempt,) = WebhookAttempt.objects.filter(delivery=delivery)
    assert attempt.status_code is None and attempt.error == "WebhookUrlRefused: private"
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.retry_step == 1
    assert delivery.next_attempt_at >= before + hooks.RETRY_DELAYS[0]
    assert "WebhookUrlRefused: private" in delivery.outcome

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    dns.answers["hooks.bank.example"] = [PUBLIC_V4]  # rebound back: the next retry sends
    assert hooks.webhook_deliveries_send() == 1
    assert net.refused == [(PUBLIC_V4, 443)]
    delivery.refresh_from_db()
    assert delivery.retry_step == 2 and "ConnectError" in delivery.outcome
    assert delivery.next_attempt_at > timezone.now() + timedelta(minutes=4)


# --- DNS pinning: the sender connects to the address it checked ----------------------------


class RebindingDns(FakeDns):
    """An attacker's name server with a TTL of 0: the first lookup of `name` answers `first`,
    every later one `then`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, first: str, then: str) -> None:
        super().__init__(monkeypatch, **{name: [first]})
        self.name, self.then = name, then

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        answers = super().getaddrinfo(host, port, family, type, proto, flags)
        if host == self.name:
            self.answers[host] = [self.then]
        return answers


class LoopbackService:
    """Something on the hub's own loopback a partner must never reach (the admin, Redis, a
    metadata proxy): records every TCP connection made to it."""

    def __init__(self) -> None:
        self.connections: list[tuple[str, int]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(peer[:2])
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        self.listener.close()


@pytest.fixture
def loopback_service():
    service = LoopbackService()
    yield service
    service.close()


@pytest.mark.django_db
def test_a_name_that_rebinds_between_check_and_connect_never_reaches_loopback(
    network, production_policy, monkeypatch, loopback_service
):
    port = loopback_service.port
    dns = RebindingDns(monkeypatch, "hooks.bank.example", first=PUBLIC_V4, then="127.0.0.1")
    net = Network(monkeypatch)
    delivery = queued(network, f"https://hooks.bank.example:{port}/in")

    assert hooks.webhook_deliveries_send() == 1
    time.sleep(0.1)  # a connection, had one been made, is accepted by now

    assert loopback_service.connections == []
    assert net.refused == [(PUBLIC_V4, port)]  # the address that was checked, and only it
    assert dns.asked == ["hooks.bank.example"]  # one lookup: the one that was judged
    (attempt,) = WebhookAttempt.objects.filter(delivery=delivery)
    assert attempt.status_code is None and attempt.error == "ConnectError"


@pytest.mark.django_db
def test_a_host_name_is_delivered_to_the_address_it_resolved_to_under_its_own_name(
    network, monkeypatch
):
    from tests.webhooks.test_services import Receiver

    receiver = Receiver([200])
    try:
        port = receiver.server.server_address[1]
        FakeDns(monkeypatch, hooks_bank_example=["127.0.0.1"])
        delivery = queued(network, f"http://hooks.bank.example:{port}/in")

        assert hooks.webhook_deliveries_send() == 1
    finally:
        receiver.close()

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    ((headers, body),) = receiver.requests
    assert headers["host"] == f"hooks.bank.example:{port}"
    assert body == b'{"type":"order.submitted"}'


def tls_certificates(name: str) -> tuple[str, bytes, bytes]:
    """A private CA (PEM) and a server certificate and key (PEM) for `name` only: no IP address
    in it, so it verifies only if the client checks it against the host name."""
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def certificate(subject, issuer, public_key, signing_key, *, ca: bool, dns: str | None):
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if dns:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False
            )
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = certificate("test CA", "test CA", ca_key.public_key(), ca_key, ca=True, dns=None)
    leaf = certificate(name, "test CA", leaf_key.public_key(), ca_key, ca=False, dns=name)
    return (
        ca.public_bytes(serialization.Encoding.PEM).decode(),
        leaf.public_bytes(serialization.Encoding.PEM),
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


class TlsReceiver:
    """An https webhook receiver on 127.0.0.1 presenting a certificate for `name`; records the
    SNI names it was asked for and every request."""

    def __init__(self, name: str, directory) -> None:
        self.ca, cert, key = tls_certificates(name)
        directory.mkdir()
        (directory / "cert.pem").write_bytes(cert)
        (directory / "key.pem").write_bytes(key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
        self.server_names: list[str | None] = []
        context.sni_callback = lambda _sock, server_name, _ctx: self.server_names.append(
            server_name
        )
        self.requests: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.django_db
def test_tls_is_verified_against_the_host_name_not_the_pinned_address(
    network, monkeypatch, tmp_path
):
    """Pinned to 127.0.0.1, the sender still sends the host name as SNI and accepts only a
    certificate for that name (the certificates carry no IP address)."""
    from concurrent.futures import ThreadPoolExecutor

    right = TlsReceiver("hooks.bank.example", tmp_path / "right")
    wrong = TlsReceiver("elsewhere.bank.example", tmp_path / "wrong")
    try:
        trust = ssl.create_default_context(cadata=right.ca + wrong.ca)
        monkeypatch.setattr(
            hooks,
            "_sender_state",
            (hooks.webhook_http_client(verify=trust), ThreadPoolExecutor(2)),
        )
        FakeDns(monkeypatch, hooks_bank_example=["127.0.0.1"])
        good = queued(network, f"https://hooks.bank.example:{right.port}/in")
        bad = queued(network, f"https://hooks.bank.example:{wrong.port}/in")

        assert hooks.webhook_deliveries_send() == 2
    finally:
        right.close()
        wrong.close()

    good.refresh_from_db()
    assert good.status == "delivered"
    assert right.server_names == ["hooks.bank.example"]
    assert [r["host"] for r in right.requests] == [f"hooks.bank.example:{right.port}"]
    (refused,) = WebhookAttempt.objects.filter(delivery=bad)
    assert refused.status_code is None and refused.error == "ConnectError"
    assert wrong.server_names == ["hooks.bank.example"] and wrong.requests == []


@pytest.mark.django_db
def test_the_admin_refuses_a_private_webhook_url_like_the_api(network, admin_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    form = {
        "institution": network.tmb.institution.pk,
        "url": "https://169.254.169.254/latest/meta-data",
        "event_types": "[]",
        "enabled": "on",
    }

    page = admin_client.post("/admin/webhooks/webhookendpoint/add/", form)

    assert page.status_code == 200  # the form again, with the error
    assert "link-local" in page.content.decode() or "not public" in page.content.decode()
    assert not WebhookEndpoint.objects.filter(url=form["url"]).exists()

    form["url"] = "https://93.184.216.34/hooks"  # a public address: accepted
    page = admin_client.post("/admin/webhooks/webhookendpoint/add/", form)
    assert page.status_code == 302
    assert WebhookEndpoint.objects.filter(url=form["url"]).exists()
