"""Settings, all from the environment (django-environ).

Embedded defaults (no variable set): SQLite in ``var/``, local-memory cache, in-memory
channel layer, Celery tasks run eagerly. Production: set ``DATABASE_URL`` (MariaDB),
``REDIS_URL``, ``SECRET_KEY``, ``ALLOWED_HOSTS``; see README.md for the full list.
"""
import logging
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
import structlog
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    # The admin site with two-factor sign-in for staff (apps/accounts/admin_site.py).
    "apps.accounts.apps.AccountsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "axes",
    "csp",
    "health_check",
    # Request metrics (its middleware below) and JSON logs with a request id
    # (README "Metrics and logs").
    "django_prometheus",
    "django_structlog",
    "apps.core",
    "apps.accounts",
    "apps.wallets",
    "apps.marketdata",
    "apps.trading",
    "apps.orderstore",
    "apps.engine",
    "apps.twelvedata",
    "apps.ecosystem",
    "apps.spot",
    "apps.fixedtime",
    "apps.trade",
    "apps.health",
    "apps.streaming",
    # After apps.accounts, whose templates (allauth/layouts/) dress allauth's pages.
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "django.contrib.humanize",  # the sessions page's "3 minutes ago"
    "apps.deposits",
    "apps.futures",
]

MIDDLEWARE = [
    # First and last: django-prometheus times everything between them.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Binds the request id (apps/core/logs.py) before anything logs.
    "django_structlog.middlewares.RequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # Before the session's CSRF check could parse a form body: /api/ takes JSON only (415).
    "apps.core.middleware.JsonBodyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Records each login's sessions, so that the account page lists and ends them.
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a login that django-axes refused into the lockout page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

if not DEBUG:  # runserver serves static files in development; WhiteNoise does in production
    MIDDLEWARE.insert(3, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "exchange_platform.urls"
WSGI_APPLICATION = "exchange_platform.wsgi.application"
ASGI_APPLICATION = "exchange_platform.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # This project's own templates and overrides; the apps' pages live in the apps
        # (apps/<app>/templates/), found through APP_DIRS, so the wheel carries them.
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # EXCHANGE_BASE_TEMPLATE for the apps' pages (apps/core/conf.py).
                "apps.core.context_processors.exchange",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        # READ COMMITTED: a locking read sees the latest committed row and so does the
        # idempotency check that follows it (REPEATABLE READ would hide a concurrent commit).
        {"charset": "utf8mb4", "isolation_level": "read committed"}
    )
    DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # make run's threads (the price stream, the engine, the market maker) write at once: a
    # transaction takes the write lock when it begins (a deferred one that reads first fails
    # at once with "database is locked" when it tries to write) and waits for it up to 20 s.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20})
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery ------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "apps.core.cache.RedisCache", "LOCATION": REDIS_URL}
    }
    # Redis pub/sub channels are server-wide, whatever the database number: without a
    # prefix of its own, each deployment sharing a Redis server would hear the others'
    # tickers and user events.
    _REDIS_DB = urlsplit(REDIS_URL).path.strip("/") or "0"
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL],
                       "prefix": env.str("CHANNEL_LAYER_PREFIX", default=f"asgi.db{_REDIS_DB}")},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # One process: the in-memory layer, made safe for the in-process price stream's thread.
    CHANNEL_LAYERS = {"default": {"BACKEND": "apps.streaming.layers.InProcessChannelLayer"}}

# A host in the memory URL, or kombu warns "No hostname was supplied" on every connect.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://localhost/")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
# Without a broker there is no worker: run tasks in-process so `make run` needs no service.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- Auth, i18n, static -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses any login, right password or not, while its account or address is
    # locked out; the model backend then checks the password.
    "axes.backends.AxesStandaloneBackend",
    # Passwords by username or e-mail (ModelBackend's checks, and its permissions).
    "apps.accounts.backends.ExactUsernameBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "trade:home"
LOGOUT_REDIRECT_URL = "trade:home"

# --- Accounts (django-allauth; apps/accounts) ------------------------------------------------
# E-mail goes through Django's mail backend: EMAIL_URL (django-environ: smtp://, smtp+tls://,
# consolemail://, filemail:///path); the console in development, SMTP in production.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
vars().update(EMAIL_CONFIG)  # EMAIL_BACKEND, EMAIL_HOST, ... as django-environ documents
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="exchange_platform <noreply@localhost>")
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
# Nobody logs in before the address is confirmed (the link in the e-mail, or the API).
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGOUT_REDIRECT_URL = "trade:home"
ACCOUNT_USERNAME_VALIDATORS = "apps.accounts.validators.USERNAME_VALIDATORS"
# Failed logins are django-axes' to count (below), once for every entry point; allauth's own
# limits on sign-ups, resets and confirmation e-mails stay.
ACCOUNT_RATE_LIMITS = {"login_failed": False}
ACCOUNT_ADAPTER = "apps.accounts.adapters.AccountAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="exchange_platform")
# One 30 s step either side (RFC 6238's recommended drift allowance): a code typed as its
# period ends, or from a phone whose clock is a few seconds off, still works.
MFA_TOTP_TOLERANCE = env.int("MFA_TOTP_TOLERANCE", default=1)
# Staff reach the admin only from a session signed in with a second factor (and are sent
# to set one up first). On unless switched off for development.
ADMIN_REQUIRE_MFA = env.bool("ADMIN_REQUIRE_MFA", default=not DEBUG)
# Sessions are recorded at login (the account page lists and ends them). Tracking each
# request's activity would write a row per request: off (under SQLite, `make run`'s
# parallel page requests then fail on the database lock).
USERSESSIONS_TRACK_ACTIVITY = env.bool("USERSESSIONS_TRACK_ACTIVITY", default=False)

# KYC (apps/accounts/kyc.py): the level each action needs (0 unverified, 1 e-mail verified,
# 2 identity reviewed) and each level's daily withdrawal limit (in KYC_LIMIT_CURRENCY).
KYC_REQUIRED_LEVEL = {
    "trade_paper": 0,
    "trade_live": env.int("KYC_LEVEL_TRADE_LIVE", default=2),
    "withdraw": env.int("KYC_LEVEL_WITHDRAW", default=1),
    "api_key_create": env.int("KYC_LEVEL_API_KEYS", default=1),
}
KYC_DAILY_WITHDRAWAL_LIMIT = {
    0: env.str("KYC_WITHDRAWAL_LIMIT_0", default="0"),
    1: env.str("KYC_WITHDRAWAL_LIMIT_1", default="1000"),
    2: env.str("KYC_WITHDRAWAL_LIMIT_2", default="100000"),
}
KYC_LIMIT_CURRENCY = env.str("KYC_LIMIT_CURRENCY", default="USDT")
# Identity documents: private files, outside any served directory (never MEDIA_ROOT or
# static); only staff download them, through the admin.
KYC_DOCUMENTS_ROOT = env.str("KYC_DOCUMENTS_ROOT", default=str(VAR_DIR / "private" / "kyc"))
KYC_DOCUMENT_MAX_BYTES = env.int("KYC_DOCUMENT_MAX_BYTES", default=5 * 1024 * 1024)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# lightweight-charts comes from npm (package.json; `make run` installs it): no CDN.
STATICFILES_DIRS = [
    ("vendor/lightweight-charts", BASE_DIR / "node_modules" / "lightweight-charts" / "dist"),
]
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes a missing login a 401, not a 403.
        "rest_framework.authentication.TokenAuthentication",
        # Requests signed with a partner API key (README "Partner API keys").
        "apps.accounts.api_keys.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        # An API key's scopes: read for GET, trade for orders, transfer for funds.
        "apps.accounts.api_keys.authentication.ApiKeyScopePermission",
    ],
    "DEFAULT_PARSER_CLASSES": ["apps.core.api.DecimalJSONParser"],
    # JSON only: no browsable-API HTML under /api/.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.core.api.JsonNegotiation",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.ErrorAutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    # Counted in the default cache: Redis, shared by every process, when REDIS_URL is set.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        # Per API key, by request weight (API_KEY_RATE_LIMIT per API_KEY_RATE_WINDOW_SECONDS).
        "apps.accounts.api_keys.authentication.ApiKeyRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON_RATE", default="60/min"),
        "user": env.str("THROTTLE_USER_RATE", default="1200/min"),
    },
    # Proxies in front of Django that append to X-Forwarded-For. 0: the client is
    # REMOTE_ADDR, which scripts/web.sh's uvicorn sets from the header only for a peer in
    # FORWARDED_ALLOW_IPS (README "Client addresses"). Never both: see there.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
# Larger request bodies under /api/ are refused with a 413 before they are read in full
# (apps/core/middleware.py); the API's requests are a few hundred bytes.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)
SPECTACULAR_SETTINGS = {
    "TITLE": "exchange_platform API",
    "DESCRIPTION": "Wallets and trading venues. Every error is "
    '{"error": {"code": ..., "message": ..., "fields": {...}}} (the ErrorOutput schema), '
    "also for an unknown URL (404) and a method a path does not have (405, with Allow).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request and response components apart, so that request strings that must not be
    # empty carry minLength 1 and read-only fields stay out of request bodies.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "apps.core.schema.link_created_items"],
    # One name per choice set that several inputs share (spectacular warns on a collision
    # and the deploy check fails on warnings).
    "ENUM_NAME_OVERRIDES": {
        "WalletTypeEnum": "apps.wallets.constants.WalletType",
        "OrderTypeEnum": "apps.trading.constants.OrderType",
        "LimitOrMarketEnum": ["LIMIT", "MARKET"],
    },
    # Served from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security (production) --------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts, styles and connections from this origin
# only; no inline script anywhere (page data travels in json_script blocks, which do not
# run). The one inline style is the chart library's attribution logo (lightweight-charts
# 5.2.1 adds that fixed <style> text): allowed by its hash, so a library upgrade that
# changes it shows as a CSP violation in tests/trade/test_browser.py. connect-src 'self'
# covers the page's own ws(s):// origin (CSP Level 3).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='"],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Browser features no page here uses, refused to this origin and anything it embeds.
PERMISSIONS_POLICY = {
    feature: [] for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "geolocation", "gyroscope",
        "magnetometer", "microphone", "midi", "payment", "usb")
}

# Failed logins (django-axes), on the API token login, the web login and the admin alike:
# AXES_FAILURE_LIMIT failures lock out for AXES_COOLOFF_MINUTES. Each entry of
# AXES_LOCKOUT_PARAMETERS locks on its own; "username+ip_address" would lock only that
# pair. The default locks the account (from every address) and the address (for every
# account), so neither many passwords against one account nor one address trying many
# accounts gets further than the limit.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [
    entry.split("+") if "+" in entry else entry
    for entry in env.list("AXES_LOCKOUT_PARAMETERS", default=["username", "ip_address"])
]
AXES_RESET_ON_SUCCESS = True
# The same client address as the API throttles (NUM_PROXIES).
AXES_CLIENT_IP_CALLABLE = "apps.accounts.lockout.client_address"
# One count per account, typed as a username or an e-mail address (allauth's login).
AXES_USERNAME_CALLABLE = "apps.accounts.lockout.login_name"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"

# --- Logging (README "Metrics and logs") ----------------------------------------------------
# One JSON object per line, from structlog and from the standard library's loggers alike
# (Django's, Celery's), each with the context bound for the request or task: request_id
# (apps/core/logs.py), user_id, ip, task_id. LOG_FORMAT=console prints them for people.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
_log_pre_chain = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso"),
]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.dev.ConsoleRenderer(colors=False) if LOG_FORMAT == "console"
                else structlog.processors.JSONRenderer(),
            ],
            "foreign_pre_chain": _log_pre_chain,
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default config gives "django" a console handler of its own (in DEBUG),
        # and it propagates to root too: every request line would print twice.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # One line per executed task is noise at tick rate; failures still log as errors.
        "celery.app.trace": {"level": "WARNING"},
        # django-structlog's request_started/request_finished replace it.
        "django.server": {"level": "WARNING"},
    },
}
structlog.configure(
    processors=[
        *_log_pre_chain,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
# The request id rides in the headers of every task published during a request and is
# bound in the worker before the task runs (exchange_platform/celery.py adds the step).
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# Its enqueued/started/succeeded lines would be one each per tick: debug; failures stay.
DJANGO_STRUCTLOG_CELERY_DEFAULT_LOG_LEVEL = logging.DEBUG
# apps/core/logs.py binds REMOTE_ADDR (ipware would believe X-Forwarded-For).
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False

# --- Metrics (/metrics; apps/health/metrics.py, README "Metrics and logs") -------------------
# Who may read /metrics: these client addresses, or "Authorization: Bearer <token>".
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
METRICS_BEARER_TOKEN = env.str("METRICS_BEARER_TOKEN", default="")
# A Celery worker's own metrics server (0: none); docker/compose.yml sets it on the worker.
METRICS_WORKER_PORT = env.int("METRICS_WORKER_PORT", default=0)
METRICS_WORKER_ADDRESS = env.str("METRICS_WORKER_ADDRESS", default="127.0.0.1")

# --- Secrets stored in the database (apps/core/crypto.py) --------------------------------
# Fernet keys, comma-separated, newest first: the first encrypts, all decrypt (rotation:
# README "Partner API keys").
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- TwelveData paper trading -------------------------------------------------------------
TWELVEDATA_BASE_URL = env.str("TWELVEDATA_BASE_URL", default="https://api.twelvedata.com")
TWELVEDATA_WS_URL = env.str("TWELVEDATA_WS_URL",
                            default="wss://ws.twelvedata.com/v1/quotes/price")
# Takes precedence over the key stored (encrypted) on the provider in the admin.
TWELVEDATA_API_KEY = env.str("TWELVEDATA_API_KEY", default="")
# Embedded mode (`make run`): stream prices on a thread of the web process, since the
# in-memory channel layer and cache cannot cross processes. Production runs
# `manage.py stream_prices` as its own process instead.
PRICE_STREAM_IN_PROCESS = env.bool("PRICE_STREAM_IN_PROCESS", default=False)
PAPER_DEMO_BALANCE = env.str("PAPER_DEMO_BALANCE", default="100000")
PAPER_DEMO_CURRENCY = env.str("PAPER_DEMO_CURRENCY", default="USD")
# A MARKET order needs a quote at most this old; older answers 409.
PAPER_QUOTE_MAX_AGE_SECONDS = env.int("PAPER_QUOTE_MAX_AGE_SECONDS", default=60)
PAPER_SWEEP_SECONDS = env.int("PAPER_SWEEP_SECONDS", default=5)
# Resting paper orders a crossing quote fills per transaction (one ledger batch each).
PAPER_FILL_BATCH = env.int("PAPER_FILL_BATCH", default=200)
PAPER_CANDLES_CACHE_SECONDS = env.int("PAPER_CANDLES_CACHE_SECONDS", default=30)

# --- Internal markets' engine (apps/engine; apps/core/conf.py says what each means) ----
ENGINE_BATCH = env.int("ENGINE_BATCH", default=500)
ENGINE_SNAPSHOT_EVERY = env.int("ENGINE_SNAPSHOT_EVERY", default=5000)
ENGINE_LEASE_SECONDS = env.int("ENGINE_LEASE_SECONDS", default=15)
ENGINE_POLL_SECONDS = env.float("ENGINE_POLL_SECONDS", default=0.5)
# make run: the runner in a thread of the web process.
ENGINE_EMBEDDED = env.bool("ENGINE_EMBEDDED", default=False)
# make run: the demo market maker in a thread of the web process (apps/core/conf.py).
MARKETMAKER_EMBEDDED = env.bool("MARKETMAKER_EMBEDDED", default=False)
MARKETMAKER_SYMBOL = env.str("MARKETMAKER_SYMBOL", default="")
MARKETMAKER_FUTURES_SYMBOL = env.str("MARKETMAKER_FUTURES_SYMBOL", default="")
MARKETMAKER_REFERENCE = env.str("MARKETMAKER_REFERENCE", default="10")
MARKETMAKER_INTERVAL_SECONDS = env.float("MARKETMAKER_INTERVAL_SECONDS", default=2.0)

# --- Internal markets' order store (apps/orderstore; README "Order store") ------------------
# "sql" (this database) or "scylla" (run `manage.py orderstore_migrate` once first).
ORDER_STORE = env.str("ORDER_STORE", default="sql")
SCYLLA_HOSTS = env.list("SCYLLA_HOSTS", default=["127.0.0.1"])
SCYLLA_PORT = env.int("SCYLLA_PORT", default=9042)
SCYLLA_KEYSPACE = env.str("SCYLLA_KEYSPACE", default="exchange_orders")
SCYLLA_REPLICATION = env.str(
    "SCYLLA_REPLICATION",
    default="{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}")
SCYLLA_LOCAL_DC = env.str("SCYLLA_LOCAL_DC", default="")
SCYLLA_WRITE_CONSISTENCY = env.str("SCYLLA_WRITE_CONSISTENCY", default="LOCAL_QUORUM")
SCYLLA_READ_CONSISTENCY = env.str("SCYLLA_READ_CONSISTENCY", default="LOCAL_QUORUM")
SCYLLA_USERNAME = env.str("SCYLLA_USERNAME", default="")
SCYLLA_PASSWORD = env.str("SCYLLA_PASSWORD", default="")

# --- Spot trading through ccxt (apps/spot) ------------------------------------------------
# The exchange's REST and WebSocket origins (empty: ccxt's own; the emulator in `make run`
# and the tests). The keys take precedence over those stored (encrypted) on the provider.
SPOT_EXCHANGE_URL = env.str("SPOT_EXCHANGE_URL", default="")
SPOT_EXCHANGE_WS_URL = env.str("SPOT_EXCHANGE_WS_URL", default="")
# ccxt.pro's WebSocket API, where the private order stream logs in.
SPOT_EXCHANGE_WS_API_URL = env.str("SPOT_EXCHANGE_WS_API_URL", default="")
SPOT_API_KEY = env.str("SPOT_API_KEY", default="")
SPOT_API_SECRET = env.str("SPOT_API_SECRET", default="")
SPOT_TRACK_SECONDS = env.int("SPOT_TRACK_SECONDS", default=5)
# Embedded mode (`make run`): the spot price stream and order tracker on threads of the
# web process (no Celery worker or beat there).
SPOT_EMBEDDED = env.bool("SPOT_EMBEDDED", default=False)

# --- Fixed-time trades (apps/fixedtime) ----------------------------------------------------
# A trade opens only on a quote at most this old (else 409 stale_quote): an entry price
# older than the market's is an edge for whoever knows the newer one.
FIXEDTIME_QUOTE_MAX_AGE_SECONDS = env.int("FIXEDTIME_QUOTE_MAX_AGE_SECONDS", default=10)
# A trade settles on the last recorded quote at or before its expiry; none within this
# many seconds before the expiry voids it (the stake refunded).
FIXEDTIME_EXIT_TOLERANCE_SECONDS = env.int("FIXEDTIME_EXIT_TOLERANCE_SECONDS", default=30)
# Settlement waits this long past the expiry for quotes stamped before it to arrive.
FIXEDTIME_SETTLE_GRACE_SECONDS = env.int("FIXEDTIME_SETTLE_GRACE_SECONDS", default=2)
# The beat sweep that settles any trade its task missed.
FIXEDTIME_SWEEP_SECONDS = env.int("FIXEDTIME_SWEEP_SECONDS", default=10)
# Recorded quotes older than this are pruned (hourly), except what open trades still need.
FIXEDTIME_QUOTE_RETENTION_SECONDS = env.int("FIXEDTIME_QUOTE_RETENTION_SECONDS",
                                            default=2 * 86_400)
# How often the quote recorder re-reads which tickers to keep.
FIXEDTIME_TICKERS_REFRESH_SECONDS = env.float("FIXEDTIME_TICKERS_REFRESH_SECONDS", default=5)

# --- Health (/health/live, /health/ready; apps/health) ---------------------------------------
# Without a broker (embedded mode) tasks run in-process and no worker exists to ping.
HEALTH_CELERY_REQUIRED = env.bool("HEALTH_CELERY_REQUIRED", default=not CELERY_TASK_ALWAYS_EAGER)
HEALTH_CELERY_TIMEOUT_SECONDS = env.float("HEALTH_CELERY_TIMEOUT_SECONDS", default=1.0)
# A venue with enabled markets whose newest quote is older than this is not ready.
HEALTH_QUOTE_MAX_AGE_SECONDS = env.int("HEALTH_QUOTE_MAX_AGE_SECONDS", default=120)

# --- Live streams (WebSocket /ws/, apps/streaming; protocol in docs/STREAMING.md) ----------
STREAMING_MAX_SUBSCRIPTIONS = env.int("STREAMING_MAX_SUBSCRIPTIONS", default=50)
# Larger client frames are refused (close 4009): requests are small, so this only bounds abuse.
STREAMING_MAX_FRAME_BYTES = env.int("STREAMING_MAX_FRAME_BYTES", default=64 * 1024)
STREAMING_HEARTBEAT_SECONDS = env.float("STREAMING_HEARTBEAT_SECONDS", default=15)
# Frames that may wait for one slow client before it is disconnected (close 4008).
STREAMING_MAX_PENDING_FRAMES = env.int("STREAMING_MAX_PENDING_FRAMES", default=1000)

# --- Deposits confirmed by the payment chain's webhook (apps/deposits; README "Deposits") ---
# Intents are in DEPOSIT_CURRENCY (credited to the SPOT wallet), paid in DEPOSIT_COIN.
DEPOSIT_CURRENCY = env.str("DEPOSIT_CURRENCY", default="USDT")
DEPOSIT_COIN = env.str("DEPOSIT_COIN", default="SGC")
DEPOSIT_COIN_DECIMALS = env.int("DEPOSIT_COIN_DECIMALS", default=8)
DEPOSIT_MIN_AMOUNT = env.str("DEPOSIT_MIN_AMOUNT", default="1")
DEPOSIT_MAX_AMOUNT = env.str("DEPOSIT_MAX_AMOUNT", default="1000000")
# A callable (currency=, coin=) -> Decimal, DEPOSIT_CURRENCY per coin; the shipped one answers
# DEPOSIT_FIXED_RATE (a coin pegged to the currency, and `make run`).
DEPOSIT_RATE_PROVIDER = env.str("DEPOSIT_RATE_PROVIDER", default="apps.deposits.rates.fixed_rate")
DEPOSIT_FIXED_RATE = env.str("DEPOSIT_FIXED_RATE", default="1")
DEPOSIT_INTENT_TTL_SECONDS = env.int("DEPOSIT_INTENT_TTL_SECONDS", default=30 * 60)
# The chain's payment page; the link carries a payload signed with DEPOSIT_LINK_SECRET (the
# key shared with the chain; empty: SECRET_KEY, so only this platform can check it).
DEPOSIT_PAYMENT_URL = env.str("DEPOSIT_PAYMENT_URL", default="https://pay.sgchain.example/pay")
DEPOSIT_LINK_SECRET = env.str("DEPOSIT_LINK_SECRET", default="")
# Any of these verifies a webhook (rotation: add the new one, switch the chain, drop the old).
DEPOSIT_WEBHOOK_SECRETS = env.list("DEPOSIT_WEBHOOK_SECRETS", default=[])
DEPOSIT_WEBHOOK_WINDOW_SECONDS = env.int("DEPOSIT_WEBHOOK_WINDOW_SECONDS", default=300)
# Addresses or networks the webhook is accepted from (empty: any); a bad entry is reported
# by the system checks at start-up (apps/core/conf.py).
DEPOSIT_WEBHOOK_ALLOWED_IPS = env.list("DEPOSIT_WEBHOOK_ALLOWED_IPS", default=[])
DEPOSIT_WEBHOOK_MAX_BODY_BYTES = env.int("DEPOSIT_WEBHOOK_MAX_BODY_BYTES", default=8 * 1024)
# Deliveries per source address (DRF's rate format): the chain's retries stay well under it.
DEPOSIT_WEBHOOK_RATE = env.str("DEPOSIT_WEBHOOK_RATE", default="600/min")
# A payment short of the intent's coin amount by more than this fraction credits nothing.
DEPOSIT_UNDERPAY_TOLERANCE = env.str("DEPOSIT_UNDERPAY_TOLERANCE", default="0.001")
DEPOSIT_SWEEP_SECONDS = env.int("DEPOSIT_SWEEP_SECONDS", default=60)
# Unpaid intents a user may hold at once; whether an admin may credit more than an intent's
# amount by hand (README "Deposits").
DEPOSIT_MAX_PENDING_INTENTS = env.int("DEPOSIT_MAX_PENDING_INTENTS", default=5)
DEPOSIT_MANUAL_CREDIT_ABOVE_INTENT = env.bool("DEPOSIT_MANUAL_CREDIT_ABOVE_INTENT", default=False)
