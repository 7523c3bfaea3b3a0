"""Settings shared by every environment.

Everything that differs between machines comes from the environment. With nothing configured the
project runs embedded: SQLite and a filesystem Celery broker under `var/` (DESIGN.md §7).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import overload

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("REMIT_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


@overload
def env(name: str, default: str) -> str: ...
@overload
def env(name: str, default: None = None) -> str | None: ...
def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = env("SECRET_KEY", "insecure-dev-key-only-for-local-use-0123456789abcdef")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [
    h.strip() for h in (env("ALLOWED_HOSTS", "127.0.0.1,localhost") or "").split(",") if h.strip()
]

# Key-encryption key (KEK) for private signing keys the hub hosts and for KYC data keys.
# A comma-separated list of `<kid>:<base64 32 bytes>`; the first is current, the rest still
# unwrap (rotation). Never stored in the database.
REMIT_KEKS = env("REMIT_KEKS", "dev:ZGV2LW9ubHkta2V5LWVuY3J5cHRpb24ta2V5LTMyYiE=")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "csp",
    "institutions",
    "webhooks",
    "ledger",
    "kyc",
    "settlement",
    "remittance",
    "remittance.audit",
    "compliance",
    "wallet",
    "wallet.notices",
]

MIDDLEWARE = [
    "config.middleware.RequestLineGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # the wallet user's own language and time zone, and "log out everywhere"
    "wallet.middleware.WalletUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "wallet.context_processors.wallet",
                "wallet.notices.context_processors.notices",  # unread_notices (header badge)
            ],
        },
    },
]

# Database: DATABASE_URL, else embedded SQLite in var/. Connections are persistent
# (DESIGN.md §8: CONN_MAX_AGE=0 costs ~5x on DRF POSTs). ATOMIC_REQUESTS stays off: money-moving
# services own their transactions with atomic(durable=True).
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'remit.sqlite3'}") or "",
        conn_max_age=600,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The wallet's languages (wallet/, locale/): .po files are compiled to .mo with Babel by
# `manage.py translations compile` (make migrate), so no gettext tools are needed to run.
LANGUAGES = [("en", "English"), ("ms", "Bahasa Melayu"), ("ur", "اردو")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# A wallet user's times are shown in their own time zone, Malaysia's unless they chose one.
WALLET_DEFAULT_TIME_ZONE = env("WALLET_DEFAULT_TIME_ZONE", "Asia/Kuala_Lumpur")
# The hosted sending institution whose customers sign up in the wallet.
WALLET_INSTITUTION = env("WALLET_INSTITUTION", "VALYOU-MY")
# Sign-up and password-reset codes: e-mail through EMAIL_BACKEND (console in development; SMTP
# from EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS in
# production); text messages through WALLET_SMS_BACKEND (console: printed by the web process).
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25") or 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "") or ""
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Remit <no-reply@remit.example>")
WALLET_SMS_BACKEND = env("WALLET_SMS_BACKEND", "wallet.messaging.ConsoleSms")
WALLET_CODE_TTL_SECONDS = int(env("WALLET_CODE_TTL_SECONDS", "900") or 900)
WALLET_CODE_MAX_ATTEMPTS = 5
# A fee at or above this share of the amount sent is pointed out before confirming.
WALLET_FEE_WARNING_PERCENT = 5

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/wallet/"
# Where customers reach the wallet, for links in e-mails (notices about their transfers).
WALLET_PUBLIC_URL = env("WALLET_PUBLIC_URL", "http://localhost:8000")

# Celery: CELERY_BROKER_URL, else kombu's filesystem transport in var/broker.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
# Redis: a task a killed worker had taken (acks_late) goes back to the queue only after this
# many seconds (kombu's default is an hour). Every task is idempotent, so a shorter timeout is
# safe; keep it above the longest task's run time (docs/operations.md, "After a crash").
CELERY_VISIBILITY_TIMEOUT = int(env("CELERY_VISIBILITY_TIMEOUT", "3600") or 3600)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # the sweep that puts such tasks back runs every 10 s (kombu scans only every 10th by
    # default: a lost task could wait 100 s beyond the timeout)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        "unacked_restore_throttle": 1,
    }
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL == "filesystem://":
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(BROKER_DIR / "control"),
    }
    for _folder in ("out", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "ledger-integrate-safety-net": {
        "task": "ledger.tasks.integrate_pending",
        "schedule": timedelta(seconds=5),
    },
    "webhooks-deliver-due": {
        "task": "institutions.tasks.deliver_webhooks",
        "schedule": timedelta(seconds=5),
    },
    "ledger-void-expired-pendings": {
        "task": "ledger.tasks.void_expired_pending_transfers",
        "schedule": timedelta(seconds=30),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["institutions.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.ProblemAutoSchema",
    "EXCEPTION_HANDLER": "core.problems.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.InstitutionRateThrottle",
        "core.throttling.ApiKeyRateThrottle",
    ],
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Remittance network partner API",
    "DESCRIPTION": "Partner-bank API of the MY→PK remittance hub. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# A verified API key is remembered per web process for this long (institutions/services.py):
# a revocation made elsewhere takes effect within it.
API_KEY_CACHE_SECONDS = float(env("API_KEY_CACHE_SECONDS", "2") or 2)

# The ledger.
LEDGER_ORIGIN = env("LEDGER_ORIGIN", "remit.example/ledger/v1")
LEDGER_OPERATOR_CODE = env("LEDGER_OPERATOR_CODE", "HUB")
LEDGER_INTEGRATE_BATCH = int(env("LEDGER_INTEGRATE_BATCH", "1000") or 1000)
# A partner-signed statement's `at` must lie within this window around the hub's clock
# (docs/ledger.md): not older than MAX_AGE, not ahead by more than MAX_SKEW.
LEDGER_STATEMENT_MAX_AGE_SECONDS = int(env("LEDGER_STATEMENT_MAX_AGE_SECONDS", "900") or 900)
LEDGER_STATEMENT_MAX_SKEW_SECONDS = int(env("LEDGER_STATEMENT_MAX_SKEW_SECONDS", "120") or 120)
# The integrator task waits this long before reading the queue, so statements committed in
# the meantime share its run (ledger/services/log.py ledger_integrate).
LEDGER_INTEGRATE_COALESCE_SECONDS = float(env("LEDGER_INTEGRATE_COALESCE_SECONDS", "0.02") or 0)
# A witness whose oldest uncovered checkpoint has waited longer than this raises an operator
# alert (ledger/services/witnesses.py; beat checks every 30 s).
LEDGER_WITNESS_LAG_ALERT_SECONDS = int(env("LEDGER_WITNESS_LAG_ALERT_SECONDS", "120") or 120)
CELERY_BEAT_SCHEDULE["ledger-witnesses-lag-check"] = {
    "task": "ledger.tasks.check_witnesses",
    "schedule": timedelta(seconds=30),
}
# Public base URL of the hub, written into partner onboarding files.
HUB_URL = env("HUB_URL", "http://127.0.0.1:8000")
# Webhook URLs partners register must reach the public internet over https
# (webhooks/urlsafety.py). True also allows http and loopback/private targets: only for
# local development, tests, the demo stack and the benchmarks.
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", False)

# Retention (docs/operations.md, Security → Retention): beat deletes, once a day, idempotency
# records this many days after their request completed (a key sent again later is a new
# request), finished webhook deliveries and their attempts this many days after their last
# activity, and refused-access rows of the KYC access log after this many days. The log's
# decrypt/share/erase rows are AML/CFT record keeping (at least five years) and never deleted.
IDEMPOTENCY_RETENTION_DAYS = int(env("IDEMPOTENCY_RETENTION_DAYS", "7") or 7)
WEBHOOK_DELIVERY_RETENTION_DAYS = int(env("WEBHOOK_DELIVERY_RETENTION_DAYS", "90") or 90)
KYC_DENIED_ACCESS_RETENTION_DAYS = int(env("KYC_DENIED_ACCESS_RETENTION_DAYS", "365") or 365)
CELERY_BEAT_SCHEDULE["retention-idempotency-records"] = {
    "task": "institutions.tasks.purge_idempotency_records",
    "schedule": timedelta(hours=24),
}
CELERY_BEAT_SCHEDULE["retention-webhook-deliveries"] = {
    "task": "institutions.tasks.purge_webhook_deliveries",
    "schedule": timedelta(hours=24),
}
CELERY_BEAT_SCHEDULE["retention-kyc-denied-access"] = {
    "task": "kyc.tasks.purge_denied_kyc_access",
    "schedule": timedelta(hours=24),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# Cache: Redis when the broker is Redis (shared across processes: the ledger's coalesced
# integration request lives here); a file cache in var/ for the embedded default.
_redis_url = env("REDIS_URL") or (
    CELERY_BROKER_URL if (CELERY_BROKER_URL or "").startswith("redis") else None
)
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}
        if _redis_url
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    )
}

# FX rates and pricing.
FX_RATE_MAX_AGE_SECONDS = int(env("FX_RATE_MAX_AGE_SECONDS", str(6 * 3600)) or 21600)
FX_RATE_PROVIDER = env("FX_RATE_PROVIDER", "settlement.rates.StaticRateProvider")
FX_STATIC_RATES = {"MYR/PKR": "63.5000", "USD/PKR": "280.5000", "MYR/USD": "0.2264"}
CELERY_BEAT_SCHEDULE["fx-rates-refresh"] = {
    "task": "settlement.tasks.refresh_fx_rates",
    "schedule": timedelta(minutes=15),
}

# Orders: an order not credited within this time is expired and refunded.
ORDER_CREDIT_TIMEOUT_SECONDS = int(env("ORDER_CREDIT_TIMEOUT_SECONDS", "3600") or 3600)
CELERY_BEAT_SCHEDULE["orders-expire-due"] = {
    "task": "remittance.tasks.expire_due_orders",
    "schedule": timedelta(seconds=30),
}
# The invariant auditor (remittance/audit, docs/operations.md): every few minutes, in one
# snapshot; a reservation may outlive its order's deadline by the expiry sweep's period.
AUDIT_INTERVAL_SECONDS = int(env("AUDIT_INTERVAL_SECONDS", "300") or 300)
AUDIT_DEADLINE_GRACE_SECONDS = int(env("AUDIT_DEADLINE_GRACE_SECONDS", "120") or 120)
CELERY_BEAT_SCHEDULE["audit-invariants"] = {
    "task": "remittance.audit.tasks.audit_invariants",
    "schedule": timedelta(seconds=AUDIT_INTERVAL_SECONDS),
}

# KYC (docs/compliance.md says where each default comes from).
KYC_TRAVEL_RULE_THRESHOLD_USD = env("KYC_TRAVEL_RULE_THRESHOLD_USD", "1000")
KYC_SCREENING_THRESHOLD = int(env("KYC_SCREENING_THRESHOLD", "88") or 88)
KYC_MIN_SENDER_AGE = 18
KYC_MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
KYC_TIER_LIMITS = {
    "MY-PK": {
        "currency": "MYR",
        "tiers": {
            "1": {"per_transaction": "3000.00", "daily": "3000.00", "monthly": "10000.00"},
            "2": {"per_transaction": "10000.00", "daily": "10000.00", "monthly": "30000.00"},
            "3": {"per_transaction": "30000.00", "daily": "50000.00", "monthly": "100000.00"},
        },
    }
}

# Settlement and reconciliation (docs/settlement.md).
# A corridor's window is closed by beat once it is this old (and holds at least one order).
SETTLEMENT_WINDOW_SECONDS = int(env("SETTLEMENT_WINDOW_SECONDS", "3600") or 3600)
# Rows per (window, institution pair) that concurrent credits spread their running totals over.
SETTLEMENT_AGGREGATE_STRIPES = int(env("SETTLEMENT_AGGREGATE_STRIPES", "8") or 8)
# An accepted order not credited within this many seconds is a reconciliation break.
SETTLEMENT_CREDIT_SLA_SECONDS = int(env("SETTLEMENT_CREDIT_SLA_SECONDS", "60") or 60)
# How far back the sweep looks for accepted-but-not-credited orders.
SETTLEMENT_RECON_LOOKBACK_SECONDS = int(env("SETTLEMENT_RECON_LOOKBACK_SECONDS", "86400") or 86400)
# No limit is no credit: an external sending institution with no liquidity limit in a currency
# is refused (`liquidity_not_configured`). Off: such an institution is unlimited (the old way).
LIQUIDITY_REQUIRE_LIMIT = env_bool("LIQUIDITY_REQUIRE_LIMIT", True)
CELERY_BEAT_SCHEDULE["settlement-close-due-windows"] = {
    "task": "settlement.tasks.close_due_windows",
    "schedule": timedelta(seconds=60),
}
CELERY_BEAT_SCHEDULE["settlement-reconciliation-sweep"] = {
    "task": "settlement.tasks.reconciliation_sweep",
    "schedule": timedelta(seconds=30),
}

# Celery's Django fixup closes the database connection before and after every task unless
# this is set (a reconnect per task costs more than most of our tasks). Connections are kept
# instead and closed by Django's own rules (CONN_MAX_AGE, errors) around each task: see
# config/celery.py.
CELERY_DB_REUSE_MAX = 1_000_000

# Group commit (remittance/batching.py): how many order batches one web process may run at
# once. 1 (measured best on 2 cores: bench/bench_orders.py): every waiting request joins the
# next batch, and batches of ~10–30 cost a fraction per order of batches of a few; more web
# processes, not more batches per process, are what use more cores. Batches of different
# processes lock in one global order (quotes, senders' KYC records, liquidity limit, accounts).
ORDER_BATCHES_IN_PARALLEL = int(env("ORDER_BATCHES_IN_PARALLEL", "1") or 1)

# Security (docs/operations.md "Security").
# Per-client limits key on the client's address: REMOTE_ADDR, or, behind this many reverse
# proxies that append to X-Forwarded-For, the entry the outermost one wrote
# (core/throttling.py client_address). 0 trusts no header.
TRUSTED_PROXY_COUNT = int(env("TRUSTED_PROXY_COUNT", "0") or 0)

# Login lockout (django-axes) on /accounts/login/ and /admin/login/: LOGIN_FAILURE_LIMIT wrong
# passwords for one username from one address lock that pair out for LOGIN_COOLOFF_MINUTES
# (a try while locked starts the wait again); a successful login clears the count. Every
# attempt is recorded (admin: Axes → access attempts / failures / logs).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(env("LOGIN_FAILURE_LIMIT", "5") or 5)
AXES_COOLOFF_TIME = timedelta(minutes=float(env("LOGIN_COOLOFF_MINUTES", "15") or 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_CLIENT_IP_CALLABLE = "core.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "config.views.login_locked_out"


def env_rate(name: str, default: str) -> str | None:
    """A DRF-style rate `<count>/<s|sec|m|min|h|hour|d|day>` from the environment; `off` for
    none. Checked here so that a typo stops the process at start, not every request."""
    import re

    from django.core.exceptions import ImproperlyConfigured

    value = (env(name, default) or "").strip()
    if value.lower() in {"off", "none", "0"}:
        return None
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|m|min|h|hour|d|day)", value):
        raise ImproperlyConfigured(f"{name} must look like 600/min (or be off), not {value!r}")
    return value


# Partner API rate limits (core/throttling.py; docs/api.md "Rate limits"), counted in the
# cache (Redis in production). Defaults are far above one bank's real traffic and the
# benchmarks' hundreds of orders a second; lower them per deployment.
API_THROTTLE_RATE = env_rate("API_THROTTLE_RATE", "120000/min")  # per institution
API_KEY_THROTTLE_RATE = env_rate("API_KEY_THROTTLE_RATE", "120000/min")  # per API key
# Failed API authentications (unknown, revoked or malformed key) per client address; over it,
# 429 before the presented key is even looked up.
API_AUTH_FAILURE_RATE = env_rate("API_AUTH_FAILURE_RATE", "30/min")

# Longest path + query string Django serves (longer: 414 `uri_too_long`, config/middleware.py).
# Below gunicorn's limit_request_line (8190, config/gunicorn.conf.py) so clients get problem
# JSON rather than gunicorn's HTML page.
REQUEST_URI_MAX_LENGTH = int(env("REQUEST_URI_MAX_LENGTH", "4096") or 4096)

# Content-Security-Policy (django-csp) on every response. No inline script anywhere: the
# wallet, the admin and Swagger UI (its init script served from its own URL) load scripts from
# 'self' only. Inline styles stay allowed: the templates use style attributes, and a style
# cannot run script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Compliance console (docs/compliance.md): a four-eyes proposal not decided within this time
# expires; the goAML report's reporting-entity id (given by the FIU at registration) and
# local currency; beat expires proposals and records a `ledger verify` for the dashboard.
FOUR_EYES_TTL_SECONDS = int(env("FOUR_EYES_TTL_SECONDS", "86400") or 86400)
GOAML_RENTITY_ID = int(env("GOAML_RENTITY_ID", "1") or 1)
GOAML_LOCAL_CURRENCY = env("GOAML_LOCAL_CURRENCY", "MYR")
CELERY_BEAT_SCHEDULE["compliance-proposals-expire"] = {
    "task": "compliance.tasks.proposals_expire",
    "schedule": timedelta(minutes=5),
}
CELERY_BEAT_SCHEDULE["compliance-ledger-verify"] = {
    "task": "compliance.tasks.ledger_verify",
    "schedule": timedelta(hours=1),
}
