"""Forms of the customer change page and of the bulk actions' confirmation pages (tags, group,
email). The merge, import and export pages keep their one form beside their views."""

from __future__ import annotations

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from customers.models import PHONE_INVALID, Customer, Tag
from customers.phones import phone_display, phone_region, phone_to_e164
from customers.services.editing import (
    TAG_CREATE_NOT_ALLOWED,
    customer_check_version,
    customer_edit_conflict,
    customer_snapshot,
    snapshot_value,
)
from customers.services.emailing import email_template_check
from customers.services.tagging import (
    TAG_NAMES_EMPTY,
    tag_names_format,
    tag_names_parse,
    tags_resolve,
)
from groups.models import CustomerGroup

TAG_SUGGESTIONS_ID = "customer-tag-suggestions"
TAG_SUGGESTIONS_MAX = 1000
GROUP_CHOOSE_ONE = _("Choose a group or type the name of a new one, not both.")
GROUP_MISSING = _("Choose a group or type the name of a new one.")
ONE_DEFAULT_ADDRESS = _("Mark only one address as the default.")
TAGS_HELP = _("Separate tags with commas: “Black Friday” is one tag.")


class TagNamesField(forms.CharField):
    """Tags typed separated by commas only, shown plainly (``Loyal customer, Newsletter``)."""

    def to_python(self, value):
        return tag_names_parse(super().to_python(value))

    def prepare_value(self, value):
        if isinstance(value, str) or value is None:
            return value
        # The model form's initial value is the customer's Tag objects.
        names = [getattr(tag, "name", tag) for tag in value]
        return tag_names_format(sorted(names, key=str.casefold))

    def has_changed(self, initial, data):
        return self.prepare_value(initial or []) != tag_names_format(self.to_python(data))


class TagsForm(forms.Form):
    tags = TagNamesField(
        label=_("Tags"),
        error_messages={"required": TAG_NAMES_EMPTY},
        help_text=_(
            "Separate tags with commas. Existing tags are suggested as you type; "
            "a new tag is created once."
        ),
        widget=forms.TextInput(attrs={"list": TAG_SUGGESTIONS_ID, "size": 60, "autofocus": True}),
    )

    def clean_tags(self):
        if not self.cleaned_data["tags"]:
            raise ValidationError(TAG_NAMES_EMPTY, code="tags_empty")
        return self.cleaned_data["tags"]

    @staticmethod
    def suggestions() -> list[str]:
        return list(
            Tag.objects.order_by("name").values_list("name", flat=True)[:TAG_SUGGESTIONS_MAX]
        )


class GroupForm(forms.Form):
    group = forms.ModelChoiceField(
        label=_("Group"), queryset=CustomerGroup.objects.order_by("name"), required=False
    )
    new_group = forms.CharField(
        label=_("or a new group named"),
        max_length=CustomerGroup._meta.get_field("name").max_length,
        required=False,
        help_text=_("An existing group with this name (in any case) is used instead."),
    )

    def __init__(self, *args, can_create: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_create:
            del self.fields["new_group"]

    def clean(self):
        cleaned = super().clean()
        group, name = cleaned.get("group"), (cleaned.get("new_group") or "").strip()
        if group and name:
            raise ValidationError(GROUP_CHOOSE_ONE, code="group_choose_one")
        if not group and not name:
            raise ValidationError(GROUP_MISSING, code="group_missing")
        cleaned["new_group"] = name
        return cleaned


class EmailForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80}),
        help_text=_("Placeholders: {first_name}, {last_name}, {email}."),
    )
    marketing = forms.BooleanField(
        label=_("Marketing email"),
        required=False,
        help_text=_("Only customers subscribed to email marketing receive it."),
    )

    def clean_subject(self):
        email_template_check(self.cleaned_data["subject"])
        return self.cleaned_data["subject"]

    def clean_body(self):
        email_template_check(self.cleaned_data["body"])
        return self.cleaned_data["body"]


EDIT_STATE_SALT = "customers.change-form"
CONFLICT_PREFIX = "conflict-"
THEIRS, YOURS = "theirs", "yours"
CONFLICT_CHOOSE = _("“%(field)s” was changed by someone else too: choose which value to keep.")
_NOT_SNAPSHOT = ("expected_version", "edit_state")


class CustomerVersionFormMixin(forms.Form):
    """Carry the version the change form was loaded with, and refuse a save made on a stale one.

    ``clean`` runs inside the admin's save transaction and locks the customer's row, so the
    check holds until the save commits. The form also carries (signed) the values it was
    loaded with; a refused form compares them with the stored row: each field someone else
    changed is shown with both values and a choice (their value by default, a choice required
    where the user changed it too), the user's other edits stay as typed, and the form carries
    the current version, so saving again applies the choices without reverting the other
    person's work.
    """

    expected_version = forms.IntegerField(
        label=_("version"), widget=forms.HiddenInput, required=False
    )
    edit_state = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.edit_conflict: list[dict] = []
        self._unchosen: list[str] = []
        if self.instance.pk is not None:
            self.fields["expected_version"].initial = self.instance.version
            base = customer_snapshot(self.instance, self._snapshot_names())
            self.fields["edit_state"].initial = _state_dump({"base": base})
        if self.is_bound:
            self._apply_choices()

    def _snapshot_names(self) -> list[str]:
        return [name for name in self.fields if name not in _NOT_SNAPSHOT]

    def _state(self) -> dict:
        return _state_load(self.data.get(self.add_prefix("edit_state"), ""))

    def _apply_choices(self) -> None:
        """Put the value chosen on the conflict rows of a refused save into the form's data."""
        state = self._state()
        conflict = state.get("conflict") or {}
        if not conflict:
            return
        data = self.data.copy()
        for name, pair in conflict.items():
            choice = data.get(CONFLICT_PREFIX + name)
            if choice in (THEIRS, YOURS) and name in self.fields:
                self._set_raw(data, name, pair[choice])
            elif name in state.get("both", []):
                self._unchosen.append(name)
        self.data = data
        if self._unchosen:
            self.edit_conflict = self._rows(conflict, state.get("both", []), data)

    def _set_raw(self, data, name: str, value) -> None:
        """Write a canonical value back as a browser would post it."""
        key, field = self.add_prefix(name), self.fields[name]
        if isinstance(field, forms.BooleanField):
            if value:
                data[key] = "on"
            else:
                data.pop(key, None)
        elif name == "tags":
            data[key] = tag_names_format(list(value or []))
        else:
            data[key] = "" if value is None else str(value)

    def clean(self):
        cleaned = super().clean()
        for name in self._unchosen:
            self.add_error(
                None,
                ValidationError(
                    CONFLICT_CHOOSE,
                    code="conflict_choose",
                    params={"field": self.fields[name].label},
                ),
            )
        if self.instance.pk is None:
            return cleaned
        try:
            customer_check_version(
                customer_id=self.instance.pk,
                expected_version=cleaned.get("expected_version"),
                # A bulk tag change no longer bumps the version: compare the tags themselves.
                expected_tags=(self._state().get("base") or {}).get("tags")
                if "tags" in self.fields
                else None,
            )
        except ValidationError as error:
            self.add_error(None, error)
            self._refused(cleaned)
        return cleaned

    def _refused(self, cleaned: dict) -> None:
        """Rewrite the refused form's data: the other person's changes in, the user's kept."""
        data = self.data.copy()
        base = self._state().get("base")
        if not isinstance(base, dict):
            # A form from before this check (or tampered with): only the version moves on.
            stored = Customer.objects.filter(pk=self.instance.pk).values_list("version", flat=True)
            data[self.add_prefix("expected_version")] = stored.first()
            self.data = data
            return
        names = [name for name in base if name in self.fields]
        yours = {
            name: snapshot_value(cleaned[name])
            if name in cleaned
            else self.data.get(self.add_prefix(name), "")
            for name in names
        }
        conflict = customer_edit_conflict(
            customer_id=self.instance.pk, base={n: base[n] for n in names}, yours=yours
        )
        pairs = {
            name: {THEIRS: conflict.theirs[name], YOURS: conflict.yours[name]}
            for name in conflict.theirs
        }
        for name, pair in pairs.items():
            if name not in conflict.both:
                self._set_raw(data, name, pair[THEIRS])
                data[CONFLICT_PREFIX + name] = THEIRS
            else:
                data.pop(CONFLICT_PREFIX + name, None)
        data[self.add_prefix("expected_version")] = conflict.version
        state = {"base": conflict.current, "conflict": pairs, "both": conflict.both}
        data[self.add_prefix("edit_state")] = _state_dump(state)
        self.data = data
        self.edit_conflict = self._rows(pairs, conflict.both, data)

    def _rows(self, pairs: dict, both: list[str], data) -> list[dict]:
        """The conflict table the change form shows above the fields."""
        return [
            {
                "name": name,
                "label": self.fields[name].label,
                "input": CONFLICT_PREFIX + name,
                "theirs": self._display(name, pair[THEIRS]),
                "yours": self._display(name, pair[YOURS]),
                "choice": data.get(CONFLICT_PREFIX + name, ""),
                "both": name in both,
            }
            for name, pair in pairs.items()
            if name in self.fields
        ]

    def _display(self, name: str, value) -> str:
        field = self.fields[name]
        if value in (None, "", []):
            return "—"
        if isinstance(value, bool):
            return str(_("yes") if value else _("no"))
        if isinstance(field, forms.ModelChoiceField):
            found = field.queryset.filter(pk=value).first()
            return str(found) if found is not None else str(value)
        if isinstance(value, list):
            return ", ".join(value)
        choices = dict(getattr(field, "choices", None) or [])
        return str(choices.get(value, value))


def _state_dump(state: dict) -> str:
    return signing.dumps(state, salt=EDIT_STATE_SALT, compress=True)


def _state_load(token: str) -> dict:
    try:
        state = signing.loads(token, salt=EDIT_STATE_SALT) if token else {}
    except signing.BadSignature:
        return {}
    return state if isinstance(state, dict) else {}


class CustomerAdminForm(CustomerVersionFormMixin, forms.ModelForm):
    """Read the customer's phone with the country of its default address, as a clerk would.

    The phone is shown as the list shows it and accepted in any format; tags are typed
    separated by commas only. ``may_create_tags`` (set by the admin per request) says whether a
    typed tag that the store does not have yet may be created; without it only existing tags
    are accepted.
    """

    may_create_tags = True
    tags = TagNamesField(label=_("Tags"), required=False, help_text=TAGS_HELP)

    class Meta:
        model = Customer
        # The admin's fieldsets choose what is shown; read-only fields are left out of the form.
        fields = "__all__"  # noqa: DJ007

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.phone:
            self.initial["phone"] = phone_display(self.instance.phone)

    def _get_validation_exclusions(self):
        # The database constraints on email read status and merged_into, which are read-only
        # here; Django skips a constraint whose fields are excluded, so keep them in.
        exclude = super()._get_validation_exclusions()
        exclude.difference_update({"status", "merged_into"})
        return exclude

    def default_country(self) -> str:
        """The country of the default address as posted (else as stored): the phone's region."""
        total = self.data.get("addresses-TOTAL_FORMS", "0")
        for index in range(int(total) if total.isdigit() else 0):
            prefix = f"addresses-{index}-"
            if self.data.get(prefix + "is_default") and not self.data.get(prefix + "DELETE"):
                country = self.data.get(prefix + "country_code", "").strip()
                if country:
                    return country
        if self.instance.pk:
            default = self.instance.addresses.filter(is_default=True).first()
            if default and default.country_code:
                return default.country_code
        return ""

    def clean_tags(self):
        names = self.cleaned_data.get("tags") or []
        if not self.may_create_tags:
            _found, missing = tags_resolve(names=names, create=False)
            if missing:
                raise ValidationError(
                    TAG_CREATE_NOT_ALLOWED,
                    code="tag_create_not_allowed",
                    params={"tags": ", ".join(missing)},
                )
        return names

    def clean_phone(self):
        raw = (self.cleaned_data.get("phone") or "").strip()
        if not raw:
            return raw
        if self.instance.phone and raw == phone_display(self.instance.phone):
            # Shown nationally for the store's region, which may not be the address's.
            return self.instance.phone
        e164 = phone_to_e164(raw, phone_region(country_code=self.default_country()))
        if e164 is None:
            raise ValidationError(PHONE_INVALID, code="phone_invalid", params={"value": raw})
        return e164


class AddressFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        defaults = [
            form
            for form in self.forms
            if form.cleaned_data.get("is_default") and not form.cleaned_data.get("DELETE")
        ]
        if len(defaults) > 1:
            raise ValidationError(ONE_DEFAULT_ADDRESS, code="one_default_address")
