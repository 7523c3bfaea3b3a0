"""Webhooks: publish events as deliveries, send them in batches, retry, replay (DESIGN.md §6).

Who calls what:
- `webhook_event_publish` — any service, inside its own transaction. It only INSERTs delivery
  rows and, on commit, requests a coalesced sender run; nothing is sent inside the caller's
  transaction and no lock is taken.
- `webhook_deliveries_send` — the sender (Celery, `webhooks.tasks.deliver_webhooks`; also
  beat's sweep of due retries). It claims due deliveries in a short transaction (a lease on
  `next_attempt_at`, SKIP LOCKED on PostgreSQL), sends them from a thread pool over pooled
  keep-alive connections with no transaction open and no row locked, then records every attempt
  in another short transaction. One run sends everything that is due, so Celery's per-task
  overhead does not cap throughput. Delivery is at least once: a sender that dies mid-flight
  leaves its lease to expire and the message is sent again with the same `webhook-id`.
- `webhook_delivery_replay` — the admin's "replay".
- `webhook_deliveries_purge` — beat, daily: finished deliveries and their attempts are deleted
  WEBHOOK_DELIVERY_RETENTION_DAYS (90) after their last activity.

Signing is Standard Webhooks (`standardwebhooks` package): headers `webhook-id` (stable per
delivery), `webhook-timestamp` (per attempt), `webhook-signature: v1,<HMAC-SHA256>`.
Payloads are `{type, timestamp, data}` with ids, states, amounts and KYC references — never PII.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import secrets
import ssl
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from standardwebhooks import Webhook

from core.db import objs_insert
from core.errors import Conflict, DomainError, NotFound
from core.pii import pii_keys
from core.retention import retention_cutoff, rows_purge
from core.tasks import task_request
from institutions.crypto import keyring
from institutions.locks import institution_lock
from institutions.models import Institution
from partner_sdk.wire import format_time
from webhooks.models import (
    RESPONSE_EXCERPT_CHARS,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)


# --- endpoints ---------------------------------------------------------------------------


def webhook_secret_aad(endpoint_id: int) -> bytes:
    return f"webhook-endpoint:{endpoint_id}".encode()


@transaction.atomic
def webhook_endpoint_create(
    *, institution: Institution, url: str, event_types: list[str] | None = None
) -> tuple[WebhookEndpoint, str]:
    """Register a webhook endpoint; returns (endpoint, `whsec_` secret shown once)."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    endpoint = WebhookEndpoint.objects.create(
        institution=institution, url=url, event_types=event_types or [], wrapped_secret=b""
    )
    endpoint.wrapped_secret = keyring().wrap(secret.encode(), aad=webhook_secret_aad(endpoint.pk))
    endpoint.save(update_fields=["wrapped_secret"])
    return endpoint, secret


def webhook_endpoint_secret(*, endpoint: WebhookEndpoint) -> str:
    return (
        keyring()
        .unwrap(bytes(endpoint.wrapped_secret), aad=webhook_secret_aad(endpoint.pk))
        .decode()
    )


def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, reason: str) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason=reason)


EVENT_TYPES = (
    "order.submitted",
    "order.accepted",
    "order.credited",
    "order.settled",
    "order.held",
    "order.rejected",
    "order.expired",
    "order.refunded",
    "order.failed",
    "liquidity.threshold",
    "name_check.requested",
)
# Standard Webhooks' schedule after the immediate first attempt; jitter is added on top.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
RETRY_JITTER = 0.2  # up to +20% of the delay, so retries of a burst do not arrive as a burst
ATTEMPT_TIMEOUT = 5.0  # seconds, per connect/read/write
CLAIM_LEASE = timedelta(seconds=60)  # well beyond ATTEMPT_TIMEOUT: a live sender never loses it
CLAIM_BATCH = 100
SENDER_THREADS = 8  # more only adds GIL contention: measured 560/s at 8, 410/s at 16
MAX_IN_FLIGHT = 32
POLL_SECONDS = 0.25
GATHER_SECONDS = 0.005
RUN_BUDGET_SECONDS = 50.0  # then hand over to a fresh run, so one task never runs forever
MAX_ENDPOINTS_PER_INSTITUTION = 10
DELIVERY_REQUESTED = "webhooks:delivery-requested"
REQUEST_FLAG_TTL = 10  # seconds; beat's sweep covers a lost flag sooner than that anyway
USER_AGENT = "remit-hub-webhooks/1"

_jitter = random.SystemRandom()


class TooManyWebhookEndpoints(Conflict):
    code, title = "too_many_webhook_endpoints", "Too many webhook endpoints"


class WebhookEndpointUnavailable(DomainError):
    code, status, title = "webhook_endpoint_unavailable", 409, "Webhook endpoint unavailable"


# --- endpoints (the partner API's writes and reads) ----------------------------------------


def webhook_endpoint_register(
    *, institution: Institution, url: str, event_types: list[str] | None = None
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint for the calling institution; returns (endpoint, secret shown once).
    At most MAX_ENDPOINTS_PER_INSTITUTION enabled endpoints each, also under concurrent
    registrations (counted and added under the institution's row lock). The URL must reach the
    public internet (WebhookUrlRefused, 422, naming the rule); a host that does not resolve yet
    is accepted, because every attempt checks the URL again before it sends."""
    from webhooks.urlsafety import WebhookHostUnresolvable, webhook_url_check

    unknown = sorted(set(event_types or []) - set(EVENT_TYPES))
    if unknown:
        raise DomainError(f"unknown event types: {', '.join(unknown)}")
    try:
        webhook_url_check(url)  # resolves the host: outside any transaction
    except WebhookHostUnresolvable:
        logger.info(
            "webhook endpoint of %s registered with a host that does not resolve yet",
            institution.code,
        )
    return _endpoint_add(institution=institution, url=url, event_types=event_types)


@transaction.atomic
def _endpoint_add(
    *, institution: Institution, url: str, event_types: list[str] | None
) -> tuple[WebhookEndpoint, str]:
    institution_lock(institution_id=institution.pk)
    enabled = WebhookEndpoint.objects.filter(institution=institution, enabled=True).count()
    if enabled >= MAX_ENDPOINTS_PER_INSTITUTION:
        raise TooManyWebhookEndpoints(
            f"at most {MAX_ENDPOINTS_PER_INSTITUTION} enabled endpoints; delete one first"
        )
    return webhook_endpoint_create(institution=institution, url=url, event_types=event_types)


@transaction.atomic
def webhook_endpoint_delete(*, institution: Institution, endpoint_id: int) -> None:
    """Delete one of the institution's endpoints (another's is NotFound, indistinguishably).
    Past deliveries stay for the audit trail; pending ones end `failed`."""
    endpoint = webhook_endpoint_get(institution=institution, endpoint_id=endpoint_id)
    WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None, outcome="endpoint deleted"
    )
    endpoint.delete()


def webhook_endpoints_of(*, institution: Institution) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(institution=institution).order_by("pk")


def webhook_endpoint_get(*, institution: Institution, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(institution=institution, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("no such webhook endpoint")
    return endpoint


# --- publishing ----------------------------------------------------------------------------


def _message_id() -> str:
    """`msg_` + 12 hex digits of milliseconds + 80 random bits: unique and roughly sortable."""
    return f"msg_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def webhook_event_publish(
    *, institution: Institution, event_type: str, data: dict[str, Any]
) -> list[WebhookDelivery]:
    """Queue `event_type` for every enabled endpoint of `institution` that wants it; the send is
    requested when the caller's transaction commits (and never happens if it rolls back).

    `data` holds ids, states, decimal-string amounts and KYC references. A key that only PII
    would use (`name`, `phone`, `address`, …) raises ValueError: that is a bug, not input."""
    return webhook_events_publish([(institution, event_type, data)])


def webhook_events_publish(
    events: Sequence[tuple[Institution, str, dict[str, Any]]],
) -> list[WebhookDelivery]:
    """`webhook_event_publish` for many (institution, event type, data): one query for the
    endpoints, one INSERT for the deliveries."""
    for _, _, data in events:
        leaked = pii_keys(data)
        if leaked:
            raise ValueError(f"webhook data must not carry personal data: {', '.join(leaked)}")
    if not events:
        return []
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
        institution_id__in={institution.pk for institution, _, _ in events}, enabled=True
    ).order_by("pk"):
        endpoints.setdefault(endpoint.institution_id, []).append(endpoint)
    now = timezone.now()
    timestamp = format_time(now)
    rows: list[WebhookDelivery] = []
    for institution, event_type, data in events:
        wanting = [e for e in endpoints.get(institution.pk, ()) if e.wants(event_type)]
        if not wanting:
            continue
        payload = json.dumps(
            {"type": event_type, "timestamp": timestamp, "data": data},
            cls=DjangoJSONEncoder,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        rows.extend(
            WebhookDelivery(
                message_id=_message_id(),
                institution=institution,
                endpoint=endpoint,
                url=endpoint.url,
                event_type=event_type,
                payload=payload,
                next_attempt_at=now,
            )
            for endpoint in wanting
        )
    if not rows:
        return []
    deliveries = objs_insert(rows, returning_pk=True)
    transaction.on_commit(webhook_delivery_request, robust=True)
    return deliveries


def webhook_delivery_request() -> None:
    """Ask for a sender run, coalesced: at most one request is outstanding at a time. The run
    clears the flag before it claims, so a delivery committed after its last claim requests a
    fresh run; beat's sweep covers a lost flag."""
    try:
        if cache.add(DELIVERY_REQUESTED, 1, timeout=REQUEST_FLAG_TTL):
            task_request("institutions.tasks.deliver_webhooks")  # its name predates the app
    except Exception:
        # The deliveries are durably queued; beat's sweep sends them within seconds.
        cache.delete(DELIVERY_REQUESTED)
        logger.exception("could not request a webhook delivery run; beat will pick it up")


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, with the same `webhook-id` and payload (the receiver dedupes
    if it did get it) and a fresh retry schedule. Refused if its endpoint is gone or disabled."""
    endpoint = (
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).first()
        if delivery.endpoint_id is not None
        else None
    )
    if endpoint is None:
        raise WebhookEndpointUnavailable("the endpoint was deleted; nothing to replay to")
    if not endpoint.enabled:
        raise WebhookEndpointUnavailable(
            f"the endpoint is disabled ({endpoint.disabled_reason or 'no reason given'})"
        )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING,
        retry_step=0,
        next_attempt_at=timezone.now(),
        delivered_at=None,
        outcome="replay requested",
    )
    transaction.on_commit(webhook_delivery_request, robust=True)
    delivery.refresh_from_db()
    return delivery


# --- retention -----------------------------------------------------------------------------


def webhook_deliveries_purge() -> int:
    """Delete deliveries that finished (delivered or failed) more than
    WEBHOOK_DELIVERY_RETENTION_DAYS ago, with their attempts; returns how many deliveries.
    Pending ones stay whatever their age, and so does one with an attempt inside the period
    (a replay of an old delivery keeps its whole history for another period)."""
    cutoff = retention_cutoff(
        days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS, setting="WEBHOOK_DELIVERY_RETENTION_DAYS"
    )
    recent_attempt = WebhookAttempt.objects.filter(
        delivery_id=OuterRef("pk"), attempted_at__gte=cutoff
    )
    finished = WebhookDelivery.objects.filter(
        Q(delivered_at__isnull=True) | Q(delivered_at__lt=cutoff),
        status__in=[WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED],
        created_at__lt=cutoff,
    ).exclude(Exists(recent_attempt))
    return rows_purge(finished)


# --- sending -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    delivery_id: int
    message_id: str
    endpoint_id: int
    url: str
    secret: str
    payload: str


@dataclass(frozen=True)
class _Outcome:
    job: _Job
    attempted_at: datetime
    status_code: int | None
    error: str
    latency_ms: int
    response_excerpt: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def webhook_deliveries_send(*, budget_seconds: float = RUN_BUDGET_SECONDS) -> int:
    """Send every due delivery; returns the number of attempts made.

    Claims, sends and records in a pipeline: up to MAX_IN_FLIGHT claimed, SENDER_THREADS on the
    wire, results recorded as they complete, so one slow receiver does not hold back the rest.
    Only this thread touches the database; the pool threads only speak HTTP."""
    cache.delete(DELIVERY_REQUESTED)
    deadline = time.monotonic() + budget_seconds
    attempts = 0
    in_flight: dict[Future[_Outcome], _Job] = {}
    while True:
        room = MAX_IN_FLIGHT - len(in_flight)
        if (not in_flight or room >= MAX_IN_FLIGHT // 2) and time.monotonic() < deadline:
            jobs = _claim(limit=min(room, CLAIM_BATCH))
            if jobs:
                http, pool = _sender()
                for job in jobs:
                    in_flight[pool.submit(_attempt, http, job)] = job
        if not in_flight:
            break
        done, _ = wait(in_flight, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
        if done and len(done) < len(in_flight):
            # Let a few more finish so one short transaction records many attempts.
            done, _ = wait(in_flight, timeout=GATHER_SECONDS, return_when=ALL_COMPLETED)
        if done:
            for future in done:
                del in_flight[future]
            _record([future.result() for future in done])
            attempts += len(done)
    if time.monotonic() >= deadline:
        webhook_delivery_request()  # more may be due: hand over to a fresh run
    return attempts


_sender_lock = threading.Lock()
_sender_state: tuple[httpx.Client, ThreadPoolExecutor] | None = None


def _sender() -> tuple[httpx.Client, ThreadPoolExecutor]:
    """The process's HTTP client and sender threads, made on first use (after a prefork worker
    has forked) and kept, so keep-alive connections to receivers outlive one run."""
    global _sender_state
    with _sender_lock:
        if _sender_state is None:
            pool = ThreadPoolExecutor(SENDER_THREADS, thread_name_prefix="webhook")
            _sender_state = (webhook_http_client(), pool)
        return _sender_state


def webhook_http_client(*, verify: ssl.SSLContext | bool = True) -> httpx.Client:
    """The client deliveries are sent with. Its transport connects only to addresses the URL
    rules allow, judged when the connection is opened (urlsafety.WebhookTransport: DNS
    pinning); certificates are verified against the URL's host name. No redirects, and no
    proxy from the environment (a proxy would resolve the name itself)."""
    from webhooks.urlsafety import WebhookTransport

    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=32)
    return httpx.Client(
        transport=WebhookTransport(limits=limits, verify=verify),
        timeout=httpx.Timeout(ATTEMPT_TIMEOUT),
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": USER_AGENT},
    )


def _claim(*, limit: int) -> list[_Job]:
    """Lease up to `limit` due deliveries (next_attempt_at := now + CLAIM_LEASE). Deliveries
    whose endpoint was deleted or disabled end `failed` here, without a network call."""
    if limit <= 0:
        return []
    now = timezone.now()
    with transaction.atomic():
        due = (
            WebhookDelivery.objects.filter(
                status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
            )
            .select_related("endpoint")
            .order_by("next_attempt_at")
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        rows = list(due[:limit])
        if not rows:
            return []
        jobs: list[_Job] = []
        dead: dict[int, str] = {}
        secrets_by_endpoint: dict[int, str] = {}
        for row in rows:
            endpoint = row.endpoint
            if endpoint is None or not endpoint.enabled:
                dead[row.pk] = (
                    "endpoint deleted"
                    if endpoint is None
                    else f"endpoint disabled: {endpoint.disabled_reason}"[:200]
                )
                continue
            if endpoint.pk not in secrets_by_endpoint:
                secrets_by_endpoint[endpoint.pk] = webhook_endpoint_secret(endpoint=endpoint)
            jobs.append(
                _Job(
                    delivery_id=row.pk,
                    message_id=row.message_id,
                    endpoint_id=endpoint.pk,
                    url=endpoint.url,
                    secret=secrets_by_endpoint[endpoint.pk],
                    payload=row.payload,
                )
            )
        if jobs:
            WebhookDelivery.objects.filter(pk__in=[job.delivery_id for job in jobs]).update(
                next_attempt_at=now + CLAIM_LEASE
            )
        for pk, reason in dead.items():
            WebhookDelivery.objects.filter(pk=pk).update(
                status=WebhookDelivery.Status.FAILED, next_attempt_at=None, outcome=reason
            )
    return jobs


def _attempt(http: httpx.Client, job: _Job) -> _Outcome:
    """One signed POST. Runs in a pool thread: HTTP only, no database. The URL is checked again
    (it may have been edited since), and the transport judges what its host resolves to when
    it connects (that may have changed since registration); a refusal fails the attempt like a
    network error, with nothing sent."""
    from webhooks.urlsafety import WebhookUrlRefused, webhook_url_check

    attempted_at = timezone.now()
    headers = {
        "webhook-id": job.message_id,
        "webhook-timestamp": str(int(attempted_at.timestamp())),
        "webhook-signature": Webhook(job.secret).sign(job.message_id, attempted_at, job.payload),
        "content-type": "application/json",
    }
    started = time.perf_counter()
    status_code: int | None = None
    error = ""
    excerpt = ""
    try:
        webhook_url_check(job.url, resolve=False)
        with http.stream("POST", job.url, content=job.payload.encode(), headers=headers) as reply:
            status_code = reply.status_code
            excerpt = _excerpt(reply)
    except WebhookUrlRefused as exc:
        error = f"WebhookUrlRefused: {exc.rule}"
        logger.warning(
            "webhook %s to endpoint %s not sent: %s", job.message_id, job.endpoint_id, exc.detail
        )
    except httpx.HTTPError as exc:
        error = type(exc).__name__
    except Exception as exc:  # a malformed URL or the like: log it as this attempt's outcome
        error = type(exc).__name__
        logger.warning("webhook %s: %s", job.message_id, error)
    latency_ms = int((time.perf_counter() - started) * 1000)
    return _Outcome(job, attempted_at, status_code, error, latency_ms, excerpt)


def _excerpt(reply: httpx.Response) -> str:
    """At most RESPONSE_EXCERPT_CHARS of the body, reading no more than a few KB of it."""
    body = b""
    try:
        for chunk in reply.iter_bytes():
            body += chunk
            if len(body) >= RESPONSE_EXCERPT_CHARS * 4:
                break
    except httpx.HTTPError:
        pass
    return body.decode("utf-8", errors="replace")[:RESPONSE_EXCERPT_CHARS]


def _retry_at(now: datetime, step: int) -> datetime:
    delay = RETRY_DELAYS[step - 1]
    return now + delay + delay * _jitter.uniform(0, RETRY_JITTER)


def _record(outcomes: list[_Outcome]) -> None:
    """Log the attempts and move each delivery on: 2xx → delivered; 410 → failed and the
    endpoint disabled; otherwise the next retry, or failed after the last. Successes (the hot
    path) are one UPDATE for the whole batch; failures are one UPDATE each."""
    gone: set[int] = set()
    with transaction.atomic():
        now = timezone.now()
        state = {
            pk: (status, attempt_count, retry_step)
            for pk, status, attempt_count, retry_step in WebhookDelivery.objects.select_for_update()
            .filter(pk__in=[o.job.delivery_id for o in outcomes])
            .order_by("pk")
            .values_list("pk", "status", "attempt_count", "retry_step")
        }
        attempts: list[WebhookAttempt] = []
        delivered: list[int] = []
        for outcome in outcomes:
            pk = outcome.job.delivery_id
            status, attempt_count, retry_step = state[pk]
            attempts.append(
                WebhookAttempt(
                    delivery_id=pk,
                    number=attempt_count + 1,
                    attempted_at=outcome.attempted_at,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    latency_ms=outcome.latency_ms,
                    response_excerpt=outcome.response_excerpt,
                )
            )
            if outcome.succeeded:
                delivered.append(pk)
                continue
            changes = _after_failure(status, retry_step, outcome, now)
            WebhookDelivery.objects.filter(pk=pk).update(attempt_count=attempt_count + 1, **changes)
            if outcome.status_code == 410:
                gone.add(outcome.job.endpoint_id)
        WebhookAttempt.objects.bulk_create(attempts)
        if delivered:
            WebhookDelivery.objects.filter(pk__in=delivered).update(
                status=WebhookDelivery.Status.DELIVERED,
                delivered_at=now,
                next_attempt_at=None,
                attempt_count=F("attempt_count") + 1,
                outcome="delivered",
            )
        for endpoint_id in gone:
            _endpoint_gone(endpoint_id, now)


def _after_failure(
    status: str, retry_step: int, outcome: _Outcome, now: datetime
) -> dict[str, Any]:
    answer = str(outcome.status_code) if outcome.status_code is not None else outcome.error
    if status != WebhookDelivery.Status.PENDING:
        return {}  # ended meanwhile (its endpoint was deleted); the attempt is still logged
    failed = {"status": WebhookDelivery.Status.FAILED, "next_attempt_at": None}
    if outcome.status_code == 410:
        return {**failed, "outcome": "receiver answered 410 Gone; endpoint disabled"}
    step = retry_step + 1
    if step > len(RETRY_DELAYS):
        logger.warning("webhook %s failed for good (%s)", outcome.job.message_id, answer)
        return {
            **failed,
            "retry_step": step,
            "outcome": f"gave up after {step} attempts (last: {answer})",
        }
    return {
        "retry_step": step,
        "next_attempt_at": _retry_at(now, step),
        "outcome": f"attempt failed ({answer}); retry {step} scheduled",
    }


def _endpoint_gone(endpoint_id: int, now: datetime) -> None:
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True).first()
    if endpoint is None:
        return
    webhook_endpoint_disable(
        endpoint=endpoint, reason=f"receiver answered 410 Gone at {format_time(now)}"
    )
    WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, status=WebhookDelivery.Status.PENDING
    ).update(
        status=WebhookDelivery.Status.FAILED,
        next_attempt_at=None,
        outcome="endpoint disabled (410 Gone)",
    )
    logger.warning("webhook endpoint %s disabled: receiver answered 410 Gone", endpoint_id)
