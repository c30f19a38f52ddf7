"""A host project's settings, written as a host would: only what the apps' README asks
for (INSTALLED_APPS, middleware, the context processor, the base template), its own user
model, SQLite, no Redis (local-memory cache, in-memory channel layer, eager Celery)."""
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "host-project-smoke-test-only"
DEBUG = True
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_celery_beat",
    "channels",
    "axes",
    "health_check",
    "members",
    "apps.core",
    "apps.accounts",
    "apps.wallets",
    "apps.marketdata",
    "apps.trading",
    "apps.twelvedata",
    "apps.trade",
    "apps.health",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
]
AUTH_USER_MODEL = "members.Member"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "host.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
        "apps.core.context_processors.exchange",
    ]},
}]
# The host's layout wraps the apps' pages.
EXCHANGE_BASE_TEMPLATE = "host/base.html"

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": BASE_DIR / "var" / "host.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://localhost/"
HEALTH_CELERY_REQUIRED = False
# Identity documents (apps.accounts): a private directory of the host's choosing.
KYC_DOCUMENTS_ROOT = str(BASE_DIR / "var" / "kyc")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.api.DecimalJSONParser"],
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}

STATIC_URL = "static/"
USE_TZ = True
TIME_ZONE = "UTC"
LOGIN_URL = "account_login"
