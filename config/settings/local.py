"""Local development and the embedded `make run`."""

from .base import *  # noqa: F403
from .base import env, env_bool

# Off unless asked for (DEBUG=1): with it on, a missing page is Django's debug page listing
# every URL, and `make run` is what people try the wallet on. Static files are served by
# WhiteNoise from collectstatic either way.
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", *(env("ALLOWED_HOSTS", "") or "").split(",")]
ALLOWED_HOSTS = [h for h in ALLOWED_HOSTS if h]
# The simulator receives webhooks on http://127.0.0.1 (webhooks/urlsafety.py).
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", True)
