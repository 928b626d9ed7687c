"""Business rules of customer groups."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from groups.models import CustomerGroup

GROUP_NAME_EMPTY = _("A group needs a name.")


@transaction.atomic
def group_get_or_create(
    *,
    actor: AbstractBaseUser | str,
    name: str,
    description: str = "",
    discount_percent: Decimal = Decimal("0"),
) -> tuple[CustomerGroup, bool]:
    """Return the group with this name (compared case-insensitively), creating it if needed.

    A group created for a staff user is written to the admin's log under their name (the group's
    history page); a command's label has no user to log under.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ValidationError(GROUP_NAME_EMPTY, code="group_name_empty")})
    existing = CustomerGroup.objects.filter(name__iexact=name).order_by("pk").first()
    if existing is not None:
        return existing, False
    group = CustomerGroup(name=name, description=description, discount_percent=discount_percent)
    group.full_clean()
    group.save()
    if isinstance(actor, AbstractBaseUser):
        LogEntry.objects.log_actions(
            user_id=actor.pk,
            queryset=[group],
            action_flag=ADDITION,
            change_message=[{"added": {}}],
            single_object=True,
        )
    return group, True
