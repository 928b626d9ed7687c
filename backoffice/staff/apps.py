from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StaffConfig(AppConfig):
    """Staff accounts: two-factor sign-in, login lockout, the styled 403 page."""

    name = "backoffice.staff"
    label = "staff"
    verbose_name = _("Staff accounts")

    def ready(self):
        third_party_names_translate()


# What the admin index shows of the security and job libraries, in our languages: django-otp and
# django-tasks-db name their apps and some models with plain English strings, and django-axes
# has no Spanish catalogue, so a French or Spanish index page showed "TOTP devices" or "Access
# attempts". (app label, app name, {model: (singular, plural)})
THIRD_PARTY_NAMES = (
    (
        "axes",
        _("Login lockouts"),
        {
            "accessattempt": (_("failed login attempt"), _("failed login attempts")),
            "accessfailurelog": (_("failed login"), _("failed logins")),
            "accesslog": (_("login record"), _("login records")),
            "accessattemptexpiration": (_("lockout expiry"), _("lockout expiries")),
        },
    ),
    (
        "otp_totp",
        _("Two-factor sign-in (authenticator app)"),
        {"totpdevice": (_("authenticator app"), _("authenticator apps"))},
    ),
    (
        "otp_static",
        _("Two-factor sign-in (backup codes)"),
        {
            "staticdevice": (_("backup code set"), _("backup code sets")),
            "statictoken": (_("backup code"), _("backup codes")),
        },
    ),
    (
        "django_tasks_database",
        _("Task queue"),
        {"dbtaskresult": (_("queued task"), _("queued tasks"))},
    ),
)


def third_party_names_translate() -> None:
    """Give the libraries' apps and models translatable names (see THIRD_PARTY_NAMES)."""
    from django.apps import apps

    for label, app_name, models in THIRD_PARTY_NAMES:
        try:
            config = apps.get_app_config(label)
        except LookupError:
            continue
        config.verbose_name = app_name
        for model_name, (singular, plural) in models.items():
            try:
                opts = config.get_model(model_name)._meta
            except LookupError:
                continue
            opts.verbose_name, opts.verbose_name_plural = singular, plural
