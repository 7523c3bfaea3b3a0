"""The Celery application.

Broker from `CELERY_BROKER_URL`; with nothing configured, kombu's filesystem transport under
`var/broker/` so a real worker process runs with no server installed (see config/settings/base.py).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("remit")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
