"""The partner API answers 429 problem JSON with Retry-After once an institution, an API key or
a client address presenting bad keys goes over its rate (core/throttling.py)."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from rest_framework.test import APIClient

from core.throttling import _count_up, client_address
from institutions import services as inst

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counters(settings):
    """A cache of this test's own: counters of other tests (or runs) must not count here."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"throttle-{uuid.uuid4()}",
        }
    }
    settings.API_THROTTLE_RATE = None
    settings.API_KEY_THROTTLE_RATE = None
    settings.API_AUTH_FAILURE_RATE = None


def _assert_throttled(answer) -> None:
    assert answer.status_code == 429
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == "throttled"
    assert 1 <= int(answer["Retry-After"]) <= 60


def test_an_institution_over_its_rate_gets_429_with_retry_after(network, settings):
    settings.API_THROTTLE_RATE = "3/min"
    partner = network.partner.client()
    for _ in range(3):
        assert partner.get("/api/v1/orders").status_code == 200

    _assert_throttled(partner.get("/api/v1/orders"))
    # the limit is the institution's, whichever of its keys is used …
    _, second_key = inst.api_credential_create(institution=network.partner.institution)
    other_key = APIClient()
    other_key.credentials(HTTP_AUTHORIZATION=f"Bearer {second_key}")
    _assert_throttled(other_key.get("/api/v1/orders"))
    # … and nobody else's
    assert network.tmb.client().get("/api/v1/orders").status_code == 200


def test_an_api_key_over_its_rate_gets_429_while_the_institutions_other_key_works(
    network, settings
):
    settings.API_KEY_THROTTLE_RATE = "2/min"
    partner = network.partner.client()
    for _ in range(2):
        assert partner.get("/api/v1/orders").status_code == 200

    _assert_throttled(partner.get("/api/v1/orders"))
    _, second_key = inst.api_credential_create(institution=network.partner.institution)
    other_key = APIClient()
    other_key.credentials(HTTP_AUTHORIZATION=f"Bearer {second_key}")
    assert other_key.get("/api/v1/orders").status_code == 200


def test_bad_keys_from_one_address_get_429_before_any_key_is_checked(network, settings):
    settings.API_AUTH_FAILURE_RATE = "3/min"
    guesser = APIClient(REMOTE_ADDR="198.51.100.7")
    for guess in range(3):
        guesser.credentials(HTTP_AUTHORIZATION=f"Bearer rk_0000000{guess}_guess")
        # a forged X-Forwarded-For does not make the guesser someone else
        answer = guesser.get("/api/v1/orders", HTTP_X_FORWARDED_FOR=f"10.0.0.{guess}")
        assert answer.status_code == 401

    guesser.credentials(HTTP_AUTHORIZATION="Bearer rk_00000009_guess")
    _assert_throttled(guesser.get("/api/v1/orders"))
    # even the right key is not looked at from that address until the window passes
    guesser.credentials(HTTP_AUTHORIZATION=f"Bearer {network.partner.api_key}")
    _assert_throttled(guesser.get("/api/v1/orders"))
    # the partner's own servers, elsewhere, are not affected
    assert network.partner.client().get("/api/v1/orders").status_code == 200


def test_successful_requests_do_not_count_as_failures(network, settings):
    settings.API_AUTH_FAILURE_RATE = "2/min"
    partner = network.partner.client()
    for _ in range(5):
        assert partner.get("/api/v1/orders").status_code == 200


def test_client_address_trusts_forwarded_for_only_behind_configured_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "203.0.113.5"  # what our one proxy saw, not the forgery
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(request) == "6.6.6.6"
    settings.TRUSTED_PROXY_COUNT = 3  # fewer hops than proxies: misconfigured, use the peer
    assert client_address(request) == "10.0.0.2"


@pytest.mark.skipif(not django_settings.CELERY_BROKER_URL.startswith("redis"), reason="needs Redis")
def test_counters_on_redis_count_atomically_and_expire(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": django_settings.CELERY_BROKER_URL,
            "KEY_PREFIX": f"throttle-test-{uuid.uuid4()}",
        }
    }
    key = "rl:test:60:1"
    assert [_count_up(key, 60) for _ in range(3)] == [1, 2, 3]
    cache = caches["default"]
    assert cache.get(key) == 3
    ttl = cache._cache.get_client(key).ttl(cache.make_and_validate_key(key))
    assert 0 < ttl <= 60
    cache.delete(key)


def test_limits_fail_open_while_redis_is_unreachable(network, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    settings.API_THROTTLE_RATE = "1/min"
    settings.API_AUTH_FAILURE_RATE = "1/min"
    partner = network.partner.client()
    assert [partner.get("/api/v1/orders").status_code for _ in range(3)] == [200, 200, 200]
