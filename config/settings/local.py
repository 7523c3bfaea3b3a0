"""Local development and the embedded `make run`."""

from .base import *  # noqa: F403
from .base import env, env_bool

DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", *(env("ALLOWED_HOSTS", "") or "").split(",")]
ALLOWED_HOSTS = [h for h in ALLOWED_HOSTS if h]
# The simulator receives webhooks on http://127.0.0.1 (webhooks/urlsafety.py).
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", True)
