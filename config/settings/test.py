"""Tests: the same settings, fast password hashing, tasks run through the real broker only where
a test starts a worker; otherwise Celery runs tasks eagerly so `on_commit` hooks complete."""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Test receivers listen on http://127.0.0.1; not taken from the environment, so a shell with
# production variables cannot change what the tests mean.
WEBHOOK_ALLOW_PRIVATE_URLS = True
# Every request looks its API key up (tests change institutions between requests); the cache
# itself is tested with an override.
API_KEY_CACHE_SECONDS = 0
# Eager tasks run inside the request that queued them: no waiting to coalesce.
LEDGER_INTEGRATE_COALESCE_SECONDS = 0.0
# Every test client comes from 127.0.0.1, and counters in a shared cache outlive a test: the
# failed-authentication limit would turn later tests' 401s into 429s. The throttle tests set
# their own rates (tests/config/test_throttling.py).
API_AUTH_FAILURE_RATE = "100000/min"
# `Client.login()` authenticates without a request, which django-axes refuses; such logins skip
# the lockout check. Logins through the login pages still go through it (tests/config/).
AUTHENTICATION_BACKENDS = [
    "tests.config.auth_backends.AxesBackendAllowingClientLogin",
    "django.contrib.auth.backends.ModelBackend",
]
