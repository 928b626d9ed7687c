"""Settings of the customer back office.

Every deploy knob comes from the environment; the defaults are safe for a developer's machine
(SQLite file, debug on, console email) and refuse to start a production deploy without a secret.
"""

import hashlib
import os
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable (1/true/yes/on)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated environment variable."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# A deploy sets DJANGO_SECRET_KEY; without one we are on a developer's machine, where debug is on.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
DEBUG = env_bool("DJANGO_DEBUG", default=not SECRET_KEY)
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 - dev default, never deployed

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "taggit",
    "import_export",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "backoffice.staff",
    "groups",
    "customers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Shopify's webhooks skip everything below (see the module).
    "customers.channels.middleware.ChannelWebhookMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "backoffice.staff.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "backoffice.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "backoffice.wsgi.application"

# SQLite file by default (zero set-up); PostgreSQL in production through DATABASE_URL.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers take the lock when their transaction starts, so two saves never interleave.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The admin follows the browser's language among these.
LANGUAGE_CODE = os.environ.get("DJANGO_LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("fr", _("French")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "backoffice" / "locale"]
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
# Uploaded import files never sit under a public URL.
PRIVATE_UPLOAD_ROOT = Path(os.environ.get("BACKOFFICE_PRIVATE_ROOT", BASE_DIR / "private"))
# Hours an import's working files (upload, preview, result) are kept, confirmed or not.
BACKOFFICE_IMPORT_RETENTION_HOURS = float(os.environ.get("BACKOFFICE_IMPORT_RETENTION_HOURS", "24"))

LOGIN_URL = "admin:login"

# Staff accounts (see README, "Security").
# Axes counts failed logins; it must come first so a locked-out login never reaches the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed passwords before one username is locked out from one address, and for how long (hours).
AXES_FAILURE_LIMIT = int(os.environ.get("BACKOFFICE_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("BACKOFFICE_LOGIN_LOCKOUT_HOURS", "1"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
# Reverse proxies in front of the site: the client's address is this many hops back in
# X-Forwarded-For (0: REMOTE_ADDR, no proxy).
BACKOFFICE_PROXY_COUNT = int(os.environ.get("BACKOFFICE_PROXY_COUNT", "0"))
AXES_CLIENT_IP_CALLABLE = "backoffice.staff.lockout.client_ip"
# Two-factor sign-in (TOTP) is required of every staff user holding a sensitive permission;
# BACKOFFICE_2FA_ALL_STAFF=1 requires it of every staff user.
BACKOFFICE_2FA_ALL_STAFF = env_bool("BACKOFFICE_2FA_ALL_STAFF", default=False)
OTP_TOTP_ISSUER = os.environ.get("BACKOFFICE_2FA_ISSUER", "Customer back office")
# A session ends after this many seconds without a request (default 8 hours); every request
# pushes the end back.
BACKOFFICE_SESSION_IDLE_SECONDS = int(
    os.environ.get("BACKOFFICE_SESSION_IDLE_SECONDS", str(8 * 3600))
)
SESSION_COOKIE_AGE = BACKOFFICE_SESSION_IDLE_SECONDS
SESSION_SAVE_EVERY_REQUEST = True

# Email: console on a developer's machine, SMTP when EMAIL_HOST is set.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "shop@localhost")

# Production hardening: on whenever debug is off.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# Preload is asked for by default so `check --deploy` is clean; a shop whose subdomains are not
# all on HTTPS sets DJANGO_HSTS_PRELOAD=0 (and DJANGO_HSTS_SECONDS lower while testing HTTPS).
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Tags are one case-insensitive set across the store: "VIP" and "vip" are the same tag.
TAGGIT_CASE_INSENSITIVE = True

# Store settings.
BACKOFFICE_PHONE_REGION = os.environ.get("BACKOFFICE_PHONE_REGION", "US").upper()
# The currency the back office counts money in: orders in another currency count at the rate
# stored on the order, or are shown apart when none is.
BACKOFFICE_STORE_CURRENCY = os.environ.get("BACKOFFICE_STORE_CURRENCY", "USD").upper()
# Marketing email: the store's postal address goes in every footer (CAN-SPAM, Gmail/Yahoo bulk
# sender rules); the public address the unsubscribe links point to. Marketing email is refused
# while either is empty.
BACKOFFICE_STORE_POSTAL_ADDRESS = os.environ.get("BACKOFFICE_STORE_POSTAL_ADDRESS", "")
BACKOFFICE_PUBLIC_URL = os.environ.get(
    "BACKOFFICE_PUBLIC_URL", "http://localhost:8000" if DEBUG else ""
).rstrip("/")
BACKOFFICE_UNSUBSCRIBE_MAILTO = os.environ.get("BACKOFFICE_UNSUBSCRIBE_MAILTO", "")
# A non-marketing mailing (which ignores unsubscribes) to more people than this needs the
# send_bulk_transactional_email permission.
BACKOFFICE_TRANSACTIONAL_EMAIL_MAX = int(os.environ.get("BACKOFFICE_TRANSACTIONAL_EMAIL_MAX", "50"))
# How imports and channel syncs find an existing customer:
# email_then_phone (default), phone_then_email, email_only, phone_only.
BACKOFFICE_CUSTOMER_MATCHING = os.environ.get("BACKOFFICE_CUSTOMER_MATCHING", "email_then_phone")
# Days after the last order before an erasure request is carried out (chargeback window).
BACKOFFICE_ERASURE_HOLD_DAYS = int(os.environ.get("BACKOFFICE_ERASURE_HOLD_DAYS", "180"))
# Largest CSV the admin import accepts.
BACKOFFICE_IMPORT_MAX_BYTES = int(os.environ.get("BACKOFFICE_IMPORT_MAX_BYTES", str(50 * 2**20)))
# Processes import_customers uses to check records (phone validation dominates); empty = cores.
BACKOFFICE_IMPORT_WORKERS = (
    int(os.environ["BACKOFFICE_IMPORT_WORKERS"])
    if os.environ.get("BACKOFFICE_IMPORT_WORKERS")
    else None
)

# --- Background jobs (backoffice/jobs): django-tasks with its database queue, no broker. ---
# backoffice.jobs comes before django_tasks_db so that its `db_worker` (which reaps dead workers'
# jobs) replaces the package's.
INSTALLED_APPS += ["backoffice.jobs", "django_tasks", "django_tasks_db"]
TASKS = {
    "default": {
        "BACKEND": os.environ.get("BACKOFFICE_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}
# Seconds without a heartbeat after which a running job counts as dead (its worker killed).
BACKOFFICE_JOB_HEARTBEAT_TIMEOUT = int(os.environ.get("BACKOFFICE_JOB_HEARTBEAT_TIMEOUT", "60"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The test database is a file, not memory, so a real worker process can share it; it lives in
    # the temporary directory, one per checkout.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get(
            "BACKOFFICE_TEST_SQLITE",
            os.path.join(
                tempfile.gettempdir(),
                f"backoffice-test-{hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:12]}.sqlite3",
            ),
        )
    }
# --- end of background jobs ---

# --- sales channels (issue 16): how often workers drain the webhook inbox (customers/channels) ---
# Each web process queues at most one drain per this many seconds (delayed by as much).
BACKOFFICE_CHANNEL_KICK_SECONDS = float(os.environ.get("BACKOFFICE_CHANNEL_KICK_SECONDS", "1"))
# Without deliveries, a drain still runs this often: it applies what a killed worker left pending.
BACKOFFICE_CHANNEL_SWEEP_SECONDS = float(os.environ.get("BACKOFFICE_CHANNEL_SWEEP_SECONDS", "60"))

# One console handler, on the root logger. Django's default configuration gives the "django"
# logger a console handler of its own; records it also passed up to the root were printed
# twice (every 403 with its traceback, the autoreloader's banner). "django" keeps only the
# mail to ADMINS (off in debug) and hands everything else to the root, so it prints once.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "mail_admins": {
            "level": "ERROR",
            "filters": ["require_debug_false"],
            "class": "django.utils.log.AdminEmailHandler",
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
    "loggers": {
        "django": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
    },
}

# --- Bulk actions and mailings as background jobs (customers/jobs_bulk.py) ---
# A list action (tags, group, archive, delete) on more customers than this runs as a job, in
# batches of BACKOFFICE_BULK_JOB_BATCH customers (one transaction each; cancel stops between them).
BACKOFFICE_BULK_JOB_THRESHOLD = int(os.environ.get("BACKOFFICE_BULK_JOB_THRESHOLD", "5000"))
BACKOFFICE_BULK_JOB_BATCH = int(os.environ.get("BACKOFFICE_BULK_JOB_BATCH", "10000"))
# An email to more customers than this is sent by a job; a smaller one in the request.
BACKOFFICE_EMAIL_JOB_THRESHOLD = int(os.environ.get("BACKOFFICE_EMAIL_JOB_THRESHOLD", "100"))
# The mailing job's pace: messages a second (0: as fast as the mail server takes them; 14 is
# Amazon SES's starting quota) and recipients per batch (claimed, sent, then confirmed).
BACKOFFICE_EMAIL_RATE = float(os.environ.get("BACKOFFICE_EMAIL_RATE", "14"))
BACKOFFICE_EMAIL_BATCH = int(os.environ.get("BACKOFFICE_EMAIL_BATCH", "100"))
# --- end of bulk jobs ---

# --- Admin import and export as background jobs (customers/jobs_import.py) ---
# An admin export of more customers than this runs as a job writing a file to private storage.
BACKOFFICE_EXPORT_JOB_THRESHOLD = int(os.environ.get("BACKOFFICE_EXPORT_JOB_THRESHOLD", "10000"))
# Hours an export job's file stays downloadable before `remove_expired_files` deletes it.
BACKOFFICE_EXPORT_RETENTION_HOURS = int(os.environ.get("BACKOFFICE_EXPORT_RETENTION_HOURS", "24"))
# --- end of admin import and export jobs ---

# The import preview warns when a file brings more new tags than this: each new tag is one more
# choice in the customer list's tag filter, for every user.
BACKOFFICE_IMPORT_NEW_TAGS_WARNING = int(
    os.environ.get("BACKOFFICE_IMPORT_NEW_TAGS_WARNING", "100")
)
