"""Settings, all from the environment.

The embedded default (no variables set) runs on SQLite with Huey's SQLite storage under ./var/, and generates a
SECRET_KEY and a data key there on first start. FANGKONG_ENV=production refuses to start without real secrets.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("FANGKONG_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

ENV = os.environ.get("FANGKONG_ENV", "development")
PRODUCTION = ENV == "production"
TESTING = os.environ.get("FANGKONG_TESTING") == "1" or "pytest" in sys.modules


def _secret(var: str, filename: str) -> str:
    """Read a secret from the environment; outside production generate one once and keep it under var/."""
    value = os.environ.get(var)
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{var} must be set when FANGKONG_ENV=production")
    path = VAR_DIR / filename
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret("SECRET_KEY", "secret_key")
FANGKONG_DATA_KEY = _secret("FANGKONG_DATA_KEY", "data_key")

DEBUG = os.environ.get("DEBUG", "0" if PRODUCTION else "1") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

if PRODUCTION and "DATABASE_URL" not in os.environ:
    raise ImproperlyConfigured("DATABASE_URL must be set when FANGKONG_ENV=production")
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'fangkong.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the Huey consumer read while the other writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
if IS_POSTGRES and os.environ.get("FANGKONG_PREPARED_STATEMENTS", "1") != "0":
    # Django sets psycopg's prepare_threshold to None, which turns preparing off even for a statement that asks for
    # it. Django's own cursors bind client-side and never prepare; with a threshold no statement reaches, only the
    # hot paths' statements that ask (core/fastsql.py, ADR 0010) are prepared.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "huey.contrib.djhuey",
    # Ninja serves the interactive API docs from its own bundled Swagger UI when it is an installed app; otherwise the
    # page loads Swagger from a public CDN, which offline or filtered networks cannot reach (the page stays blank).
    "ninja",
    "fangkong.core",
    "fangkong.geo",
    "fangkong.tenancy",
    "fangkong.people",
    "fangkong.obligations",
    "fangkong.policy",
    "fangkong.health",
    "fangkong.access",
    "fangkong.measures",
    "fangkong.testing",
    "fangkong.tracing",
    "fangkong.notify",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "fangkong.core.middleware.RequestContextMiddleware",
    "fangkong.tenancy.middleware.ActiveMembershipMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "fangkong" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # `|can:"perm"` and `query_replace` in every template without a {% load %}.
            "builtins": ["fangkong.core.templatetags.fangkong"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fangkong.tenancy.context_processors.navigation",
            ],
        },
    }
]

AUTHENTICATION_BACKENDS = ["fangkong.core.auth.UsernameOrPhoneBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
NODE_MODULES = BASE_DIR / "node_modules"
# Front-end assets come from the npm registry (package.json); only their dist folders are served.
STATICFILES_DIRS: list[Any] = [
    ("vendor/tabler", NODE_MODULES / "@tabler" / "core" / "dist"),
    ("vendor/tabler-icons", NODE_MODULES / "@tabler" / "icons-webfont" / "dist"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/echarts", NODE_MODULES / "echarts" / "dist"),
    BASE_DIR / "fangkong" / "static",
]
STATICFILES_DIRS = [d for d in STATICFILES_DIRS if Path(d[1] if isinstance(d, tuple) else d).exists()]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"
WHITENOISE_USE_FINDERS = not PRODUCTION

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
X_FRAME_OPTIONS = "DENY"

REDIS_URL = os.environ.get("REDIS_URL")
if TESTING:
    HUEY = {"huey_class": "huey.MemoryHuey", "name": "fangkong", "immediate": True}
elif REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": "fangkong",
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": int(os.environ.get("HUEY_WORKERS", "4")), "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "fangkong",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

# Django's cache carries what several processes must agree on: the API auth cache's version (ADR 0009) and the
# public pages' rate-limit counters. With Redis (production: several web processes) it is shared; embedded and in
# tests it is per process, which the auth cache bounds by its TTL and which makes a rate limit per process.
if REDIS_URL and not TESTING:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": "fangkong", "TIMEOUT": 300}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "fangkong"}}
# The API auth cache's bounds (ADR 0009). Spelled out, not only defaulted in authcache: it reads them on every
# lookup, and a setting Django does not have costs an AttributeError each time (≈ 3 µs, most of a lookup).
AUTH_CACHE_TTL = float(os.environ.get("AUTH_CACHE_TTL", "10"))
AUTH_CACHE_CHECK = float(os.environ.get("AUTH_CACHE_CHECK", "1"))

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.locmem.EmailBackend" if TESTING else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "fangkong@localhost")
FANGKONG_SMS_BACKEND = os.environ.get("FANGKONG_SMS_BACKEND", "fangkong.notify.sms.LoggingSmsBackend")
# The health-code interface the gate consults (fangkong/access/healthcodes.py); none (manual entry) by default.
FANGKONG_HEALTH_CODE_PROVIDER = os.environ.get("FANGKONG_HEALTH_CODE_PROVIDER",
                                               "fangkong.access.healthcodes.ManualProvider")
FANGKONG_HEALTH_CODE_OPTIONS = {
    key: value for key, value in (
        ("url", os.environ.get("FANGKONG_HEALTH_CODE_URL")), ("token", os.environ.get("FANGKONG_HEALTH_CODE_TOKEN")),
        ("timeout", os.environ.get("FANGKONG_HEALTH_CODE_TIMEOUT")),
        ("source", os.environ.get("FANGKONG_HEALTH_CODE_SOURCE")),
    ) if value
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # huey adds its own handler in the consumer, so its records must not also reach the root handler.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "huey": {"level": "INFO", "propagate": False}},
}

# Covering indexes (INCLUDE) are a PostgreSQL optimisation; on the embedded SQLite the same indexes exist without the
# extra columns, which is what we want, so the warning that says so is noise.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
