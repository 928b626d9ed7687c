"""The "Edit selected customers" page: a checkbox per change, then one confirmation in words.

The action itself is declared in ``actions.py`` beside the others (``mass_update``); this module
holds its form, the sentences of its confirmation and of its outcome, and the glue between the
form's JSON (what a job is given) and ``customers_mass_update``.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from customers.admin.forms import GROUP_CHOOSE_ONE, TAG_SUGGESTIONS_ID, TagNamesField, TagsForm
from customers.admin.reports import report
from customers.audit.events import display_value
from customers.models import Consent
from customers.services.mass_update import (
    CONSENT_WITHDRAWALS,
    FIELD_PERMISSIONS,
    MASS_FIELD_NOT_ALLOWED,
    MassUpdate,
    MassUpdateResult,
    customers_mass_update,
    mass_update_check,
    mass_update_fields_allowed,
    mass_update_label,
)
from customers.services.tagging import TAG_NAMES_EMPTY
from groups.models import CustomerGroup

MASS_UPDATE = "mass_update"
CHANGE_PREFIX = "change_"
VALUE_MISSING = gettext_lazy("Choose the new value, or untick this change.")
NOTE_MISSING = gettext_lazy("Write the note to add, or untick this change.")
SET_FIELDS = ("tax_exempt", "email_consent", "sms_consent", "has_active_subscription")
YES_NO = [("yes", gettext_lazy("Yes")), ("no", gettext_lazy("No"))]
# The page's three steps, posted as "post": the form, its confirmation, the confirmed changes.
EDIT, REVIEW, CONFIRMED = "edit", "review", "yes"


def _yes_no(label) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label, choices=YES_NO, coerce=lambda v: v == "yes", required=False, empty_value=None
    )


def _consent(label) -> forms.ChoiceField:
    choices = [(state, Consent(state).label) for state in CONSENT_WITHDRAWALS]
    return forms.ChoiceField(
        label=label,
        choices=choices,
        required=False,
        help_text=gettext_lazy(
            "Only withdraws consent: customers already at a lower level keep theirs, and "
            "nobody is subscribed by a bulk edit."
        ),
    )


class MassUpdateForm(forms.Form):
    """A "change" checkbox per field, beside the field's new value; only ticked ones apply.

    Fields ``allowed`` leaves out are not on the form; one posted anyway is refused.
    """

    change_group = forms.BooleanField(label=gettext_lazy("Change the group"), required=False)
    group = forms.ModelChoiceField(
        label=gettext_lazy("Group"),
        queryset=CustomerGroup.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("No group (remove from their group)"),
    )
    new_group = forms.CharField(
        label=gettext_lazy("or a new group named"),
        max_length=CustomerGroup._meta.get_field("name").max_length,
        required=False,
    )
    change_tax_exempt = forms.BooleanField(
        label=gettext_lazy("Change tax exemption"), required=False
    )
    tax_exempt = _yes_no(gettext_lazy("Tax exempt"))
    change_email_consent = forms.BooleanField(
        label=gettext_lazy("Change email marketing"), required=False
    )
    email_consent = _consent(gettext_lazy("Email marketing"))
    change_sms_consent = forms.BooleanField(
        label=gettext_lazy("Change SMS marketing"), required=False
    )
    sms_consent = _consent(gettext_lazy("SMS marketing"))
    change_has_active_subscription = forms.BooleanField(
        label=gettext_lazy("Change the active subscription"), required=False
    )
    has_active_subscription = _yes_no(gettext_lazy("Active subscription"))
    change_add_tags = forms.BooleanField(label=gettext_lazy("Add tags"), required=False)
    add_tags = TagNamesField(
        label=gettext_lazy("Tags to add"),
        required=False,
        widget=forms.TextInput(attrs={"list": TAG_SUGGESTIONS_ID, "size": 60}),
    )
    change_remove_tags = forms.BooleanField(label=gettext_lazy("Remove tags"), required=False)
    remove_tags = TagNamesField(
        label=gettext_lazy("Tags to remove"),
        required=False,
        widget=forms.TextInput(attrs={"list": TAG_SUGGESTIONS_ID, "size": 60}),
    )
    change_note = forms.BooleanField(label=gettext_lazy("Add a note"), required=False)
    note = forms.CharField(
        label=gettext_lazy("Note added to each customer"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )

    # The value fields of each change, beside its checkbox.
    VALUES = {
        "group": ("group", "new_group"),
        "tax_exempt": ("tax_exempt",),
        "email_consent": ("email_consent",),
        "sms_consent": ("sms_consent",),
        "has_active_subscription": ("has_active_subscription",),
        "add_tags": ("add_tags",),
        "remove_tags": ("remove_tags",),
        "note": ("note",),
    }

    def __init__(self, *args, actor, can_create_group: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.allowed = mass_update_fields_allowed(actor)
        for name in FIELD_PERMISSIONS:
            if name not in self.allowed:
                for field_name in (CHANGE_PREFIX + name, *self.VALUES[name]):
                    del self.fields[field_name]
        if not can_create_group and "new_group" in self.fields:
            del self.fields["new_group"]

    def rows(self) -> list[tuple[forms.BoundField, list[forms.BoundField]]]:
        """Each offered change: its checkbox and its value fields, for the template."""
        return [
            (self[CHANGE_PREFIX + name], [self[f] for f in self.VALUES[name] if f in self.fields])
            for name in self.allowed
        ]

    def clean(self):
        cleaned = super().clean()
        for name in FIELD_PERMISSIONS:
            if name not in self.allowed and self.data.get(self.add_prefix(CHANGE_PREFIX + name)):
                raise ValidationError(
                    MASS_FIELD_NOT_ALLOWED,
                    code="field_not_allowed",
                    params={"field": mass_update_label(name)},
                )
        self._values_check(cleaned)
        if not self.errors:
            try:
                mass_update_check(actor=self.actor, changes=self.changes())
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned

    def _values_check(self, cleaned: dict) -> None:
        ticked = self.ticked()
        for name in SET_FIELDS:
            if name in ticked and cleaned.get(name) in (None, ""):
                self.add_error(name, ValidationError(VALUE_MISSING, code="value_missing"))
        for name in ("add_tags", "remove_tags"):
            if name in ticked and not cleaned.get(name):
                self.add_error(name, ValidationError(TAG_NAMES_EMPTY, code="tags_empty"))
        if "note" in ticked and not (cleaned.get("note") or "").strip():
            self.add_error("note", ValidationError(NOTE_MISSING, code="note_missing"))
        if "group" in ticked and cleaned.get("group") and cleaned.get("new_group", "").strip():
            self.add_error("new_group", ValidationError(GROUP_CHOOSE_ONE, code="group_choose_one"))

    def ticked(self) -> list[str]:
        return [n for n in self.allowed if self.cleaned_data.get(CHANGE_PREFIX + n)]

    def changes(self) -> MassUpdate:
        """The ticked changes (call once the form is valid)."""
        data, ticked = self.cleaned_data, self.ticked()
        group = data.get("group") if "group" in ticked else None
        group_name = (data.get("new_group") or "").strip() if "group" in ticked else ""
        return MassUpdate(
            group=group,
            group_name=group_name,
            clear_group="group" in ticked and not group and not group_name,
            add_tags=tuple(data["add_tags"]) if "add_tags" in ticked else (),
            remove_tags=tuple(data["remove_tags"]) if "remove_tags" in ticked else (),
            note=(data.get("note") or "").strip() if "note" in ticked else "",
            **{name: data.get(name) if name in ticked else None for name in SET_FIELDS},
        )


def mass_update_form(request) -> MassUpdateForm:
    """The page's form, bound once the page itself was posted (any of its steps)."""
    return MassUpdateForm(
        request.POST if request.POST.get("post") else None,
        actor=request.user,
        can_create_group=request.user.has_perm("groups.add_customergroup"),
    )


def mass_update_context(request, form: MassUpdateForm) -> dict:
    """Which step the page shows: the form, or the changes in words to confirm."""
    review = request.POST.get("post") in (REVIEW, CONFIRMED) and form.is_valid()
    return {
        "review": review,
        "change_lines": change_lines(form.changes()) if review else [],
        "tag_suggestions": TagsForm.suggestions(),
        "tag_suggestions_id": TAG_SUGGESTIONS_ID,
        "steps": {"edit": EDIT, "review": REVIEW, "confirmed": CONFIRMED},
    }


def change_lines(changes: MassUpdate) -> list[str]:
    """The changes in words, in the form's order, for the confirmation page."""
    lines = []
    if changes.group:
        lines.append(_("Move to the group “%(group)s”.") % {"group": changes.group})
    elif changes.group_name:
        lines.append(
            _("Move to the group “%(group)s” (created if it does not exist).")
            % {"group": changes.group_name}
        )
    elif changes.clear_group:
        lines.append(_("Remove from their group."))
    for name in SET_FIELDS:
        value = getattr(changes, name)
        if value is not None:
            lines.append(_set_line(name, value))
    if changes.add_tags:
        lines.append(_("Add the tags: %(tags)s.") % {"tags": ", ".join(changes.add_tags)})
    if changes.remove_tags:
        lines.append(_("Remove the tags: %(tags)s.") % {"tags": ", ".join(changes.remove_tags)})
    if changes.note:
        lines.append(_("Add the note: “%(note)s”.") % {"note": changes.note})
    return lines


def _set_line(name: str, value) -> str:
    words = {
        "tax_exempt": _("Tax exempt: %(value)s."),
        "email_consent": _("Email marketing: %(value)s, where that withdraws consent."),
        "sms_consent": _("SMS marketing: %(value)s, where that withdraws consent."),
        "has_active_subscription": _("Active subscription: %(value)s."),
    }
    return words[name] % {"value": display_value(value, name)}


def mass_update_run(actor, customers, data: dict) -> MassUpdateResult:
    """The operation's work: the service on a selection (a queryset, or a job's batch of ids)."""
    return customers_mass_update(
        actor=actor, customers=customers, changes=MassUpdate.from_data(data)
    )


def report_mass_update(modeladmin, request, result: MassUpdateResult) -> None:
    """Say how many customers changed, then each change's count."""
    report(
        modeladmin,
        request,
        ngettext("%(count)d customer edited.", "%(count)d customers edited.", result.changed)
        % {"count": result.changed},
        result.skipped,
        ngettext(
            "%(count)d customer was merged or erased and was left as it was.",
            "%(count)d customers were merged or erased and were left as they were.",
            result.skipped,
        ),
    )
    say = lambda text: modeladmin.message_user(request, text, messages.SUCCESS)  # noqa: E731
    counts = result.counts
    if result.group_created:
        say(_("Group “%(group)s” created.") % {"group": result.group})
    if "group" in counts and result.group:
        say(
            ngettext(
                "%(count)d customer moved to group “%(group)s”.",
                "%(count)d customers moved to group “%(group)s”.",
                counts["group"],
            )
            % {"count": counts["group"], "group": result.group}
        )
    elif "group" in counts:
        say(
            ngettext(
                "%(count)d customer removed from its group.",
                "%(count)d customers removed from their group.",
                counts["group"],
            )
            % {"count": counts["group"]}
        )
    for name in SET_FIELDS:
        if name in counts:
            say(_count_line(name, counts[name]))
    _report_tags(say, result)
    if "note" in counts:
        say(
            ngettext(
                "Note added to %(count)d customer.",
                "Note added to %(count)d customers.",
                counts["note"],
            )
            % {"count": counts["note"]}
        )


def _count_line(name: str, count: int) -> str:
    return ngettext(
        "%(field)s changed on %(count)d customer.",
        "%(field)s changed on %(count)d customers.",
        count,
    ) % {"field": mass_update_label(name), "count": count}


def _report_tags(say, result: MassUpdateResult) -> None:
    for name, count in result.tags_added.items():
        say(
            ngettext(
                "Tag “%(tag)s” added to %(count)d customer.",
                "Tag “%(tag)s” added to %(count)d customers.",
                count,
            )
            % {"tag": name, "count": count}
        )
    for name, count in result.tags_removed.items():
        say(
            ngettext(
                "Tag “%(tag)s” removed from %(count)d customer.",
                "Tag “%(tag)s” removed from %(count)d customers.",
                count,
            )
            % {"tag": name, "count": count}
        )
