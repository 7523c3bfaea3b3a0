"""Partner API rate limits and the failed-authentication guard (docs/api.md "Rate limits").

Counts live in the default cache — Redis in production, so every web process shares them — in
fixed windows: one atomic increment per request and limit. DRF's own SimpleRateThrottle keeps
every request's timestamp per client and rewrites that list on each request, which at partner
rates (thousands a minute) costs more than the request itself. The trade of fixed windows: a
client may spend up to twice a limit across one window boundary.

Rates are read from settings on every request (`API_THROTTLE_RATE`, `API_KEY_THROTTLE_RATE`,
`API_AUTH_FAILURE_RATE`: "<count>/<s|min|h|d>", empty for no limit), so the environment and
`override_settings` both apply.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """`120000/min` → (120000, 60). The period is read from its first letter, as DRF does."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[:1]]


def client_address(request: Any) -> str:
    """The address the request came from, for per-client limits (and for django-axes).

    REMOTE_ADDR, unless `TRUSTED_PROXY_COUNT` says that many reverse proxies append to
    X-Forwarded-For: then the entry the outermost of them appended. Anything left of it was
    written by the client and is never trusted."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= proxies:
            return hops[-proxies]
    return remote


def _window(name: str, duration: int) -> tuple[str, float]:
    """The cache key of the current window for `name`, and the seconds until it ends."""
    now = time.time()
    window = int(now // duration)
    return f"rl:{name}:{duration}:{window}", (window + 1) * duration - now


def _count_up(key: str, timeout: int) -> int:
    """Add one to a counter that expires `timeout` seconds after its first hit; the new count."""
    cache = caches["default"]
    client = _redis_client()
    if client is not None:
        # One round trip (Django's add + incr take three). Django stores ints as plain Redis
        # integers, so cache.get reads these counters back.
        try:
            return int(
                _count_up_script(client)(keys=[cache.make_and_validate_key(key)], args=[timeout])
            )
        except redis.RedisError:
            _redis_unavailable()
            return 0
    if cache.add(key, 1, timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr: this hit starts it again
        cache.add(key, 1, timeout)
        return 1


def _count(key: str) -> int:
    cache = caches["default"]
    client = _redis_client()
    if client is not None:
        try:
            return int(client.get(cache.make_and_validate_key(key)) or 0)
        except redis.RedisError:
            _redis_unavailable()
            return 0
    return cache.get(key) or 0


_last_unavailable_warning = [0.0]


def _redis_unavailable() -> None:
    """Limits fail open while Redis is unreachable: partners' requests are served uncounted
    rather than refused. Said in the log at most once a minute per process."""
    now = time.monotonic()
    if now - _last_unavailable_warning[0] > 60:
        _last_unavailable_warning[0] = now
        logger.warning("rate limits not counted: Redis unreachable", exc_info=True)


def _redis_client() -> redis.Redis | None:
    """A client of the default cache's Redis server (the first: where Django writes), when the
    cache is Redis without extra OPTIONS. Django's RedisCache builds a new client object for
    every operation, which costs more CPU than the round trip; counters are on every API
    request, so they keep one per process. Otherwise None: go through the cache API."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != "django.core.cache.backends.redis.RedisCache" or config.get("OPTIONS"):
        return None
    location = config["LOCATION"]
    servers = re.split("[;,]", location) if isinstance(location, str) else list(location)
    return _redis_client_for(servers[0].strip())


@functools.cache
def _redis_client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


@functools.cache
def _count_up_script(client: redis.Redis) -> Any:
    return client.register_script(
        "local n = redis.call('INCR', KEYS[1]) "
        "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
        "return n"
    )


class _WindowThrottle(BaseThrottle):
    rate_setting: str
    scope: str
    _wait: float | None = None

    def ident(self, request: Any) -> object | None:
        raise NotImplementedError

    def allow_request(self, request: Any, view: Any) -> bool:
        rate = getattr(settings, self.rate_setting, None)
        ident = self.ident(request)
        if not rate or ident is None:
            return True
        limit, duration = rate_parse(rate)
        key, self._wait = _window(f"{self.scope}:{ident}", duration)
        return _count_up(key, duration) <= limit

    def wait(self) -> float | None:
        return self._wait


class InstitutionRateThrottle(_WindowThrottle):
    """All requests of one institution, whichever of its API keys they carry."""

    rate_setting = "API_THROTTLE_RATE"
    scope = "institution"

    def ident(self, request: Any) -> object | None:
        return getattr(request.auth, "institution_id", None)


class ApiKeyRateThrottle(_WindowThrottle):
    """All requests carrying one API key (an institution may hold several)."""

    rate_setting = "API_KEY_THROTTLE_RATE"
    scope = "api_key"

    def ident(self, request: Any) -> object | None:
        return getattr(request.auth, "pk", None)


def auth_failures_check(request: Any) -> None:
    """Raise Throttled while this client address is over `API_AUTH_FAILURE_RATE` failed
    authentications: the key it presents is then not even looked up."""
    rate = settings.API_AUTH_FAILURE_RATE
    if not rate:
        return
    limit, duration = rate_parse(rate)
    key, wait = _window(f"auth_failure:{client_address(request)}", duration)
    if _count(key) >= limit:
        raise exceptions.Throttled(wait=wait)


def auth_failure_record(request: Any) -> None:
    """Count one failed authentication against the client's address."""
    rate = settings.API_AUTH_FAILURE_RATE
    if not rate:
        return
    _, duration = rate_parse(rate)
    key, _ = _window(f"auth_failure:{client_address(request)}", duration)
    _count_up(key, duration)
