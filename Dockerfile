# Production image: gunicorn behind a proxy; the same image runs web, worker, beat and the
# partner simulator (see Procfile and compose.yaml). Secrets come from the environment.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production REMIT_VAR_DIR=/app/var

RUN groupadd --system remit && useradd --system --gid remit --home /app remit
WORKDIR /app

COPY pyproject.toml ./
COPY config ./config
COPY institutions ./institutions
COPY ledger ./ledger
COPY kyc ./kyc
COPY settlement ./settlement
COPY remittance ./remittance
COPY partner_sdk ./partner_sdk
COPY templates ./templates
COPY manage.py Procfile ./
RUN pip install . && mkdir -p /app/var && chown -R remit:remit /app/var

USER remit
# collectstatic needs settings to import; the values are placeholders used only at build time.
RUN SECRET_KEY=build-only-placeholder-build-only-placeholder-build-only \
    REMIT_KEKS=build:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 CELERY_BROKER_URL=redis://build:6379/0 \
    ALLOWED_HOSTS=build python manage.py collectstatic --no-input -v 0

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["gunicorn", "config.wsgi:application", "-c", "config/gunicorn.conf.py", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "16"]
