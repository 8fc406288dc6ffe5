"""Settings from the environment; the embedded default needs nothing but a disk.

DATABASE_URL   default: SQLite file in FOKUS_DATA_DIR (WAL, IMMEDIATE transactions)
FOKUS_DATA_DIR default: ./var under the project root
SECRET_KEY     default: a development key (set it in production)
DEBUG          default: off
ALLOWED_HOSTS  default: 127.0.0.1,localhost
FOKUS_TASKS    default: db (django-tasks-db in the database); huey (Redis); immediate
REDIS_URL      default: redis://127.0.0.1:6379/0 (only with FOKUS_TASKS=huey)
TELEGRAM_*     see docs/telegram.md (bot token, Bot API base URL, webhook secret)
EMAIL_*        SMTP (EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD,
               EMAIL_USE_TLS), DEFAULT_FROM_EMAIL; without EMAIL_HOST mail goes to files
"""

import os
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP  # type: ignore[import-not-found,unused-ignore]
from django.utils.translation import gettext_lazy as _

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("FOKUS_DATA_DIR", PROJECT_ROOT / "var"))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = os.environ.get("SECRET_KEY", "fokus-development-key-not-for-production")
DEBUG = _env_bool("DEBUG", False)
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "django_tasks_db",
    "fokus.core",
    "fokus.people",
    "fokus.scheduler",
    "fokus.telegram",
    "fokus.programs",
    "fokus.scoring",
    "fokus.leaderboard",
    "fokus.delivery",
    "fokus.review",
    "fokus.kpi",
    "fokus.announcements",
    "fokus.supervision",
    "fokus.digest",
    "fokus.insights",
    "fokus.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "fokus.people.web.middleware.PersonMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "fokus.config.urls"
WSGI_APPLICATION = "fokus.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATA_DIR.mkdir(parents=True, exist_ok=True)
(DATA_DIR / "static").mkdir(exist_ok=True)  # whitenoise serves from finders; this keeps it quiet
_default_sqlite = f"sqlite:///{DATA_DIR / 'fokus.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_sqlite))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work while one writer writes; IMMEDIATE takes the write lock at
    # BEGIN so two writers queue on busy_timeout instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
    }
    # One test database per test process: two suites running at once on one checkout
    # must not delete each other's database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "programs:today"
LOGOUT_REDIRECT_URL = "core:login"

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_ROOT / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# Uploaded answers live here, served only through views that check permission (no MEDIA_URL).
MEDIA_ROOT = DATA_DIR / "media"

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Nothing loads from a CDN: the policy forbids every origin but our own.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "frame-ancestors": [CSP.NONE],
}

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Background work goes through Django's task API only; the backend is a setting
# (docs/background-work.md, docs/decisions/0003-task-backends.md).
FOKUS_TASKS = os.environ.get("FOKUS_TASKS", "db").strip().lower()
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
_TASK_BACKENDS = {
    "db": "django_tasks_db.DatabaseBackend",
    "huey": "huey.contrib.djhuey.tasks_backend.HueyBackend",
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
}
if FOKUS_TASKS not in _TASK_BACKENDS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"FOKUS_TASKS={FOKUS_TASKS!r}: use one of {', '.join(sorted(_TASK_BACKENDS))}."
    )
# No QUEUES list: any queue name is accepted and `fokus worker` serves them all.
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[FOKUS_TASKS], "QUEUES": []}}
if FOKUS_TASKS == "huey":
    INSTALLED_APPS.append("huey.contrib.djhuey")
HUEY = {
    "huey_class": "huey.PriorityRedisHuey",  # priorities, like the DB backend
    "name": os.environ.get("FOKUS_HUEY_NAME", "fokus"),
    "url": REDIS_URL,
    "immediate": False,  # djhuey would otherwise follow DEBUG
    "utc": True,
    "consumer": {
        "workers": int(os.environ.get("FOKUS_HUEY_WORKERS", "4")),
        "worker_type": "thread",
    },
}
# The schedule table the beat reads (a dotted path, so the scheduler app never
# imports config); tests and scripted runs may point it elsewhere.
FOKUS_SCHEDULE = os.environ.get("FOKUS_SCHEDULE", "fokus.config.schedule.SCHEDULE")
# Extra long-running services `fokus run` starts next to web, worker and beat:
# dotted paths of `def service(stop: threading.Event) -> None`.
FOKUS_RUN_SERVICES: list[str] = []

# Links in e-mails and Telegram messages are absolute; this is where Fokus is reached.
FOKUS_PUBLIC_URL = os.environ.get("FOKUS_PUBLIC_URL", "http://127.0.0.1:8000")

# E-mail (docs/delivery.md). With EMAIL_HOST set, mail goes out over SMTP; without it
# (the embedded run) each message is written as a file under FOKUS_DATA_DIR/mail.
# Django 6.1's MAILERS, filled from the usual EMAIL_* variables.
_EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if _EMAIL_HOST:
    MAILERS = {"default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": _EMAIL_HOST,
            "port": int(os.environ.get("EMAIL_PORT", "25")),
            "username": os.environ.get("EMAIL_HOST_USER", ""),
            "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
            "use_tls": _env_bool("EMAIL_USE_TLS", False),
            "timeout": 30,
        },
    }}
else:
    MAILERS = {"default": {
        "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "OPTIONS": {"file_path": str(DATA_DIR / "mail")},
    }}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "fokus@localhost")

# Telegram (docs/telegram.md). The default bot serves every organisation without its own.
TELEGRAM_BOT_TOKEN = os.environ.get("TELEGRAM_BOT_TOKEN", "")
# Tests and local Bot API servers point this elsewhere; PTB gets "<base>/bot".
TELEGRAM_API_BASE_URL = os.environ.get("TELEGRAM_API_BASE_URL", "https://api.telegram.org")
# The X-Telegram-Bot-Api-Secret-Token of the default bot's webhook (organisation bots
# get a random one each).
TELEGRAM_WEBHOOK_SECRET = os.environ.get("TELEGRAM_WEBHOOK_SECRET", "")
# Rate-limit state shared by every process sending through a bot: in Redis only when
# REDIS_URL is set explicitly (the default above is for huey); in-process otherwise.
TELEGRAM_LIMITER_REDIS_URL = os.environ.get("REDIS_URL", "")
TELEGRAM_BIND_TOKEN_DAYS = int(os.environ.get("TELEGRAM_BIND_TOKEN_DAYS", "30"))
# `fokus run` also long-polls Telegram (instead of a webhook) when this is on.
TELEGRAM_POLLING = _env_bool("TELEGRAM_POLLING", False)
# What higher layers do with Telegram messages and button presses (docs/telegram.md):
# dotted paths of `handler(update, payload, bot, client) -> str | None`, tried in this
# order after /start; the first to return an outcome wins.
FOKUS_TELEGRAM_HANDLERS: list[str] = [
    "fokus.review.telegram_flows.telegram_review_handler",
    "fokus.supervision.telegram_team.telegram_team_handler",
]
if TELEGRAM_POLLING:
    FOKUS_RUN_SERVICES.append("fokus.telegram.polling.polling_service")

# KPI exports dropped here are imported nightly: <dir>/<org slug>/<source slug>/*.csv|xlsx.
FOKUS_KPI_DROP_DIR = Path(os.environ.get("FOKUS_KPI_DROP_DIR", DATA_DIR / "kpi-drop"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
