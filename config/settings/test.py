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
