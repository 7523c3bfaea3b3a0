"""Webhooks as a partner bank sees them: signed Standard Webhooks POSTs to a real HTTP receiver
on loopback, retried on the DESIGN.md §6 schedule with the same webhook-id, 410 honoured, every
attempt logged; and the endpoint management API."""

from __future__ import annotations

import copy
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from institutions.idempotency import IdempotencyRecord
from kyc import services as kyc
from tests.conftest import requires_postgres
from tests.kyc.conftest import BENEFICIARY, PII_STRINGS, SENDER
from webhooks import services as hooks
from webhooks import tasks
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_event_publish


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's default 5 drops SYNs under a burst


class Receiver:
    """A partner's webhook endpoint: a real HTTP server on 127.0.0.1 answering scripted status
    codes (the last one repeats) and recording every request."""

    def __init__(self, answers: list[int] | None = None) -> None:
        self.answers = list(answers or [200])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.requests.append(
                        ({k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = (
                        receiver.answers.pop(0)
                        if len(receiver.answers) > 1
                        else receiver.answers[0]
                    )
                reply = json.dumps({"received": status}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = LoopbackServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def private_cache(settings):
    """The coalescing flag lives in the cache; keep it away from any other process's."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(answers: list[int] | None = None) -> Receiver:
        made.append(Receiver(answers))
        return made[-1]

    yield make
    for r in made:
        r.close()


def order_data(beneficiary_kyc_ref: str = "kyc_ben_1") -> dict:
    return {
        "order_id": "ord_01",
        "status": "submitted",
        "sending_institution": "VALYOU-MY",
        "receiving_institution": "TMB-PK",
        "send_amount": {"amount": "1000.00", "currency": "MYR"},
        "receive_amount": {"amount": "59120.00", "currency": "PKR"},
        "beneficiary_kyc_ref": beneficiary_kyc_ref,
        "payout_method": "mobile_wallet",
    }


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what a block registers with on_commit when it exits, as a real commit would (a
    transactional test cannot be flushed on SQLite once the append-only ledger has entries)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def publish(network, committed):
    def publish(event_type: str = "order.submitted", data: dict | None = None):
        with committed(), transaction.atomic():
            return webhook_event_publish(
                institution=network.tmb.institution,
                event_type=event_type,
                data=data or order_data(),
            )

    return publish


def clock_forward(delivery: WebhookDelivery) -> None:
    """Let the retry fall due now instead of waiting out the schedule."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


@pytest.mark.django_db
def test_delivery_is_signed_per_standard_webhooks_and_carries_refs_not_pii(
    network, receiver, publish
):
    hook = receiver([200])
    endpoint, secret = hooks.webhook_endpoint_create(
        institution=network.tmb.institution, url=hook.url
    )
    sender = kyc.kyc_record_create(
        owner=network.valyou.institution, role="sender", data=copy.deepcopy(SENDER)
    )
    beneficiary = kyc.kyc_record_create(
        owner=network.valyou.institution, role="beneficiary", data=copy.deepcopy(BENEFICIARY)
    )
    data = {**order_data(beneficiary.kyc_ref), "sender_kyc_ref": sender.kyc_ref}

    (delivery,) = publish(data=data)

    assert len(hook.requests) == 1
    headers, body = hook.requests[0]
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == delivery.message_id
    assert headers["webhook-signature"].startswith("v1,")
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "order.submitted"
    assert payload["data"] == data
    assert payload["timestamp"].endswith("Z")
    text = body.decode()
    assert not [pii for pii in PII_STRINGS if pii in text]
    with pytest.raises(Exception, match="signature"):
        Webhook(
            hooks.webhook_endpoint_create(institution=network.tmb.institution, url=hook.url)[1]
        ).verify(body, headers)
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempt_count == 1
    (attempt,) = delivery.attempts.all()
    assert attempt.status_code == 200 and attempt.latency_ms < 5000
    assert json.loads(attempt.response_excerpt) == {"received": 200}
    assert endpoint.pk == delivery.endpoint_id


@pytest.mark.django_db
def test_data_naming_personal_fields_is_refused_before_anything_is_queued(network):
    hooks.webhook_endpoint_create(institution=network.tmb.institution, url="http://127.0.0.1:9/x")
    with pytest.raises(ValueError, match=r"data\.beneficiary\.name"):
        webhook_event_publish(
            institution=network.tmb.institution,
            event_type="order.submitted",
            data={**order_data(), "beneficiary": {"name": "Rukhsana Bibi"}},
        )
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_500_then_200_retries_with_the_same_webhook_id_after_5_seconds(network, receiver, publish):
    hook = receiver([500, 200])
    _, secret = hooks.webhook_endpoint_create(institution=network.tmb.institution, url=hook.url)

    (delivery,) = publish()

    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempt_count == 1
    first = delivery.attempts.get()
    assert first.status_code == 500
    wait = delivery.next_attempt_at - first.attempted_at
    assert timedelta(seconds=5) <= wait <= timedelta(seconds=6.5)
    assert tasks.deliver_webhooks.delay() is not None  # beat's sweep: nothing is due yet
    assert len(hook.requests) == 1

    clock_forward(delivery)
    tasks.deliver_webhooks.delay()

    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.delivered_at is not None
    assert [a.status_code for a in delivery.attempts.all()] == [500, 200]
    assert [a.number for a in delivery.attempts.all()] == [1, 2]
    ids = [headers["webhook-id"] for headers, _ in hook.requests]
    assert ids == [delivery.message_id, delivery.message_id]
    assert hook.requests[0][1] == hook.requests[1][1]
    for headers, body in hook.requests:
        Webhook(secret).verify(body, headers)


@pytest.mark.django_db
def test_retries_follow_the_schedule_then_the_delivery_fails(network, receiver, publish):
    hook = receiver([503])
    hooks.webhook_endpoint_create(institution=network.tmb.institution, url=hook.url)
    (delivery,) = publish()
    waits = []
    for _ in range(len(hooks.RETRY_DELAYS)):
        delivery.refresh_from_db()
        last = delivery.attempts.order_by("-number").first()
        waits.append(delivery.next_attempt_at - last.attempted_at)
        clock_forward(delivery)
        tasks.deliver_webhooks.delay()

    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert delivery.attempts.count() == 8 == len(hook.requests)
    expected = [5, 300, 1800, 7200, 18000, 36000, 36000]
    for wait, seconds in zip(waits, expected, strict=True):
        assert seconds <= wait.total_seconds() <= seconds * 1.2 + 1
    assert "gave up after 8 attempts" in delivery.outcome


@pytest.mark.django_db
def test_410_gone_disables_the_endpoint_and_stops(network, receiver, publish):
    hook = receiver([410])
    endpoint, _ = hooks.webhook_endpoint_create(institution=network.tmb.institution, url=hook.url)

    (delivery,) = publish()

    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempt_count == 1
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    assert publish("order.accepted") == []
    tasks.deliver_webhooks.delay()
    assert len(hook.requests) == 1


@pytest.mark.django_db
def test_unreachable_receiver_is_logged_by_error_class_and_retried(network, publish):
    hooks.webhook_endpoint_create(institution=network.tmb.institution, url="http://127.0.0.1:9/wh")

    (delivery,) = publish()

    delivery.refresh_from_db()
    attempt = delivery.attempts.get()
    assert attempt.status_code is None and attempt.error == "ConnectError"
    assert delivery.status == "pending" and delivery.next_attempt_at > timezone.now()


@pytest.mark.django_db
def test_nothing_is_sent_before_commit_or_after_rollback(network, receiver, committed):
    hook = receiver([200])
    hooks.webhook_endpoint_create(institution=network.tmb.institution, url=hook.url)
    with committed():
        with transaction.atomic():
            webhook_event_publish(
                institution=network.tmb.institution, event_type="order.submitted", data=order_data()
            )
            assert hook.requests == []
        assert hook.requests == []  # committed, but the caller's transaction is still open
    assert len(hook.requests) == 1

    with committed(), transaction.atomic():
        webhook_event_publish(
            institution=network.tmb.institution, event_type="order.accepted", data=order_data()
        )
        transaction.set_rollback(True)
    assert len(hook.requests) == 1
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db
def test_endpoints_get_only_the_events_they_asked_for(network, receiver, publish):
    everything, credited_only = receiver([200]), receiver([200])
    hooks.webhook_endpoint_create(institution=network.tmb.institution, url=everything.url)
    hooks.webhook_endpoint_create(
        institution=network.tmb.institution, url=credited_only.url, event_types=["order.credited"]
    )
    hooks.webhook_endpoint_create(institution=network.partner.institution, url=everything.url)

    publish("order.submitted")
    publish("order.credited")

    assert [json.loads(b)["type"] for _, b in everything.requests] == [
        "order.submitted",
        "order.credited",
    ]
    assert [json.loads(b)["type"] for _, b in credited_only.requests] == ["order.credited"]


@pytest.mark.django_db
def test_a_burst_is_sent_by_one_batched_run(network, receiver, monkeypatch, committed):
    hook = receiver([200])
    hooks.webhook_endpoint_create(institution=network.tmb.institution, url=hook.url)
    runs: list[int] = []
    real_send = tasks.webhook_deliveries_send

    def counting_send(**kwargs):
        runs.append(real_send(**kwargs))
        return runs[-1]

    monkeypatch.setattr(tasks, "webhook_deliveries_send", counting_send)
    with committed(), transaction.atomic():
        for n in range(60):
            webhook_event_publish(
                institution=network.tmb.institution,
                event_type="order.submitted",
                data={**order_data(), "order_id": f"ord_{n}"},
            )

    # Eager Celery runs the task inside the first on_commit hook; the other hooks' runs (a
    # real broker coalesces them behind the flag) find nothing left to send.
    assert [attempts for attempts in runs if attempts] == [60]
    assert len(hook.requests) == 60
    assert len({h["webhook-id"] for h, _ in hook.requests}) == 60
    assert WebhookDelivery.objects.filter(status="delivered").count() == 60
    assert WebhookAttempt.objects.count() == 60


@pytest.mark.django_db
def test_replay_sends_the_same_message_again(network, receiver, publish, committed):
    hook = receiver([200])
    hooks.webhook_endpoint_create(institution=network.tmb.institution, url=hook.url)
    (delivery,) = publish()

    with committed():
        hooks.webhook_delivery_replay(delivery=delivery)

    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempt_count == 2
    assert [h["webhook-id"] for h, _ in hook.requests] == [delivery.message_id] * 2
    assert hook.requests[0][1] == hook.requests[1][1]


@pytest.mark.django_db
def test_replay_refuses_a_disabled_endpoint(network, receiver, publish):
    hook = receiver([410])
    hooks.webhook_endpoint_create(institution=network.tmb.institution, url=hook.url)
    (delivery,) = publish()
    with pytest.raises(hooks.WebhookEndpointUnavailable, match="410"):
        hooks.webhook_delivery_replay(delivery=delivery)


@pytest.mark.django_db
def test_admin_can_replay_but_not_edit_deliveries(
    network, receiver, admin_client, publish, committed
):
    hook = receiver([503, 200])
    hooks.webhook_endpoint_create(institution=network.tmb.institution, url=hook.url)
    (delivery,) = publish()
    url = "/admin/webhooks/webhookdelivery/"

    page = admin_client.get(f"{url}{delivery.pk}/change/")
    assert page.status_code == 200 and delivery.message_id in page.content.decode()
    assert b'name="_save"' not in page.content
    with committed():
        response = admin_client.post(
            url, {"action": "replay", "_selected_action": [delivery.pk]}, follow=True
        )

    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert [a.status_code for a in delivery.attempts.all()] == [503, 200]


# --- the endpoint management API -----------------------------------------------------------


def post(member, body: dict, key: str = "k1"):
    return member.client().post(
        "/api/v1/webhook-endpoints", body, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.mark.django_db
def test_register_shows_the_secret_once_and_it_signs_deliveries(network):
    response = post(network.tmb, {"url": "https://bank.example/hooks"})

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == [] and created["enabled"] is True
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert hooks.webhook_endpoint_secret(endpoint=endpoint) == created["secret"]
    listed = network.tmb.client().get("/api/v1/webhook-endpoints").json()
    assert [e["id"] for e in listed["results"]] == [created["id"]]
    assert "secret" not in listed["results"][0]
    one = network.tmb.client().get(f"/api/v1/webhook-endpoints/{created['id']}").json()
    assert "secret" not in one and one["url"] == "https://bank.example/hooks"
    stored = json.dumps(list(IdempotencyRecord.objects.values_list("response_body", flat=True)))
    assert created["secret"] not in stored


@pytest.mark.django_db
def test_register_is_idempotent(network):
    body = {"url": "https://bank.example/hooks", "event_types": ["order.submitted"]}
    first = post(network.tmb, body)
    again = post(network.tmb, body)
    other = post(network.tmb, {"url": "https://bank.example/other"})
    missing = network.tmb.client().post("/api/v1/webhook-endpoints", body, format="json")

    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["secret"] is None  # shown once: never stored in clear for replays
    assert WebhookEndpoint.objects.filter(institution=network.tmb.institution).count() == 1
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency_key_required"


@pytest.mark.django_db
def test_an_institution_cannot_see_or_delete_anothers_endpoints(network):
    theirs = post(network.tmb, {"url": "https://tmb.example/hooks"}).json()["id"]
    post(network.partner, {"url": "https://partner.example/hooks"})
    intruder = network.partner.client()

    listed = intruder.get("/api/v1/webhook-endpoints").json()["results"]
    assert [e["url"] for e in listed] == ["https://partner.example/hooks"]
    for response in (
        intruder.get(f"/api/v1/webhook-endpoints/{theirs}"),
        intruder.delete(f"/api/v1/webhook-endpoints/{theirs}"),
        intruder.delete("/api/v1/webhook-endpoints/999999"),
    ):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"
    assert WebhookEndpoint.objects.filter(pk=theirs).exists()

    owner = network.tmb.client()
    assert owner.delete(f"/api/v1/webhook-endpoints/{theirs}").status_code == 204
    assert owner.get(f"/api/v1/webhook-endpoints/{theirs}").status_code == 404
    assert not WebhookEndpoint.objects.filter(pk=theirs).exists()


@pytest.mark.django_db
def test_deleting_an_endpoint_keeps_its_delivery_history(network):
    created = post(network.tmb, {"url": "http://127.0.0.1:9/hooks"}).json()
    delivery = webhook_event_publish(
        institution=network.tmb.institution, event_type="order.submitted", data=order_data()
    )[0]

    assert (
        network.tmb.client().delete(f"/api/v1/webhook-endpoints/{created['id']}").status_code == 204
    )

    delivery.refresh_from_db()
    assert delivery.endpoint is None and delivery.url == "http://127.0.0.1:9/hooks"
    assert delivery.status == "failed" and delivery.outcome == "endpoint deleted"


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://bank.example/hooks"},
        {"url": "not a url"},
        {"url": "https://user:pw@bank.example/hooks"},
        {"url": "https://bank.example/hooks", "event_types": ["order.teleported"]},
        {},
    ],
)
@pytest.mark.django_db
def test_invalid_registrations_are_400_problems(network, body):
    response = post(network.tmb, body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_endpoints_per_institution_are_capped(network):
    for n in range(hooks.MAX_ENDPOINTS_PER_INSTITUTION):
        assert post(network.tmb, {"url": f"https://b.example/{n}"}, key=f"k{n}").status_code == 201
    response = post(network.tmb, {"url": "https://b.example/last"}, key="last")
    assert response.status_code == 409 and response.json()["code"] == "too_many_webhook_endpoints"


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_cannot_exceed_the_endpoint_cap(network):
    """30 registrations of one institution at once: exactly the cap are enabled, the rest are
    refused (they used to count the endpoints before any of them had inserted)."""
    from django.db import connection

    attempts = 30
    start = threading.Barrier(attempts)
    outcomes: list[str] = []

    def register(n: int) -> None:
        try:
            start.wait()
            hooks.webhook_endpoint_register(
                institution=network.tmb.institution, url=f"http://127.0.0.1:9/hooks/{n}"
            )
            outcomes.append("registered")
        except hooks.TooManyWebhookEndpoints:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    cap = hooks.MAX_ENDPOINTS_PER_INSTITUTION
    enabled = WebhookEndpoint.objects.filter(institution=network.tmb.institution, enabled=True)
    assert enabled.count() == cap
    assert outcomes.count("registered") == cap and outcomes.count("refused") == attempts - cap


@pytest.mark.django_db
def test_endpoint_api_needs_an_api_key(network, api_client):
    response = api_client.get("/api/v1/webhook-endpoints")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- retention -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_finished_deliveries_and_their_attempts_are_purged_after_ninety_days(network, settings):
    assert settings.WEBHOOK_DELIVERY_RETENTION_DAYS == 90
    endpoint, _ = hooks.webhook_endpoint_create(
        institution=network.tmb.institution, url="http://127.0.0.1:9/hooks"
    )
    now, day = timezone.now(), timedelta(days=1)

    def delivery(name: str, status: str, *, created: timedelta, attempts: list[timedelta]):
        row = WebhookDelivery.objects.create(
            message_id=f"msg_{name}",
            institution=network.tmb.institution,
            endpoint=endpoint,
            url=endpoint.url,
            event_type="order.submitted",
            payload="{}",
            status=status,
            next_attempt_at=now if status == "pending" else None,
            delivered_at=now - attempts[-1] if status == "delivered" else None,
        )
        WebhookDelivery.objects.filter(pk=row.pk).update(created_at=now - created)
        for number, ago in enumerate(attempts, start=1):
            WebhookAttempt.objects.create(
                delivery=row,
                number=number,
                attempted_at=now - ago,
                status_code=200 if status == "delivered" and number == len(attempts) else 503,
                latency_ms=3,
            )
        return row

    delivery("old_delivered", "delivered", created=100 * day, attempts=[100 * day])
    delivery("old_failed", "failed", created=100 * day, attempts=[100 * day, 99 * day])
    delivery("old_replayed_lately", "failed", created=100 * day, attempts=[100 * day, 2 * day])
    delivery("old_redelivered", "delivered", created=100 * day, attempts=[100 * day, 1 * day])
    delivery("old_pending", "pending", created=100 * day, attempts=[100 * day])
    delivery("recent", "delivered", created=30 * day, attempts=[30 * day])

    assert hooks.webhook_deliveries_purge() == 2

    kept = set(WebhookDelivery.objects.values_list("message_id", flat=True))
    assert kept == {
        "msg_old_replayed_lately",
        "msg_old_redelivered",
        "msg_old_pending",
        "msg_recent",
    }
    assert WebhookAttempt.objects.count() == 2 + 2 + 1 + 1  # the purged ones' went with them


# --- a real worker -------------------------------------------------------------------------


@pytest.fixture
def worker(real_celery):
    from tests.conftest import celery_worker_args, spawn, stop

    proc = spawn(celery_worker_args("--pool", "threads", "--concurrency", "2"))
    yield proc
    stop(proc)


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_what_committed_transactions_publish(
    network, receiver, worker, settings
):
    settings.CACHES = {  # the worker and this process must share the coalescing flag
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CELERY_BROKER_URL,
        }
    }
    hook = receiver([200])
    _, secret = hooks.webhook_endpoint_create(institution=network.tmb.institution, url=hook.url)
    for batch in range(20):
        with transaction.atomic():
            for n in range(10):
                webhook_event_publish(
                    institution=network.tmb.institution,
                    event_type="order.submitted",
                    data={**order_data(), "order_id": f"ord_{batch}_{n}"},
                )

    deadline = time.monotonic() + 30
    while len(hook.requests) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # nothing more may arrive

    assert len(hook.requests) == 200
    assert len({h["webhook-id"] for h, _ in hook.requests}) == 200
    for headers, body in hook.requests[:5]:
        Webhook(secret).verify(body, headers)
    assert WebhookDelivery.objects.filter(status="delivered").count() == 200
