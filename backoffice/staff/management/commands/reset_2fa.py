"""Recovery path for a staff user who lost their authenticator app."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from backoffice.staff.two_factor import user_two_factor_reset


class Command(BaseCommand):
    help = (
        "Remove a staff user's two-factor devices and print one single-use recovery code; "
        "they sign in with it and enrol a new app."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: username})
        except user_model.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        result = user_two_factor_reset(actor="manage.py reset_2fa", user=user)
        self.stdout.write(
            f"Removed {result.removed_devices} two-factor device(s) of {username}.\n"
            f"Single-use recovery code: {result.recovery_code}\n"
            "Give it to the user in person; after signing in with it they must enrol a new app."
        )
