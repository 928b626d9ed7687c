from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StaffConfig(AppConfig):
    """Staff accounts: two-factor sign-in, login lockout, the styled 403 page."""

    name = "backoffice.staff"
    label = "staff"
    verbose_name = _("Staff accounts")
