"""The bare DRF-insert floor for bench_orders.py: same settings, one trivial endpoint."""

from config.settings.test import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
CELERY_TASK_ALWAYS_EAGER = False
