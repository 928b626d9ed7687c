"""How the customer list's actions tell the user what they did: one message per outcome."""

from __future__ import annotations

from django.contrib import messages
from django.utils.translation import gettext as _


def reasons_text(counts: dict[str, int], choices) -> str:
    """'label: count; ...' in the order the reasons are declared."""
    return "; ".join(
        _("%(reason)s: %(count)d") % {"reason": choice.label, "count": counts[choice]}
        for choice in choices
        if counts.get(choice)
    )


def report(modeladmin, request, done: str, other: int, other_message: str, **params) -> None:
    """Say what was done and, when some rows were left alone, how many and why."""
    modeladmin.message_user(request, done, messages.SUCCESS)
    if other:
        modeladmin.message_user(
            request, other_message % {"count": other, **params}, messages.WARNING
        )
