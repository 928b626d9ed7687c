"""Forms of the customer change page and of the bulk actions' confirmation pages (tags, group,
email). The merge, import and export pages keep their one form beside their views."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from taggit.forms import TagField

from customers.models import PHONE_INVALID, Customer, Tag
from customers.phones import phone_region, phone_to_e164
from customers.services.editing import customer_check_version
from customers.services.emailing import email_template_check
from customers.services.tagging import TAG_NAMES_EMPTY, tag_names_clean
from groups.models import CustomerGroup

TAG_SUGGESTIONS_ID = "customer-tag-suggestions"
TAG_SUGGESTIONS_MAX = 1000
GROUP_CHOOSE_ONE = _("Choose a group or type the name of a new one, not both.")
GROUP_MISSING = _("Choose a group or type the name of a new one.")
ONE_DEFAULT_ADDRESS = _("Mark only one address as the default.")


class TagsForm(forms.Form):
    tags = TagField(
        label=_("Tags"),
        help_text=_(
            "Separate tags with commas. Existing tags are suggested as you type; "
            "a new tag is created once."
        ),
        widget=forms.TextInput(attrs={"list": TAG_SUGGESTIONS_ID, "size": 60, "autofocus": True}),
    )

    def clean_tags(self):
        names = tag_names_clean(self.cleaned_data["tags"])
        if not names:
            raise ValidationError(TAG_NAMES_EMPTY, code="tags_empty")
        return names

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


class CustomerVersionFormMixin(forms.Form):
    """Carry the version the change form was loaded with, and refuse a save made on a stale one.

    ``clean`` runs inside the admin's save transaction and locks the customer's row, so the
    check holds until the save commits. A refused form keeps everything the user typed and
    carries the current version, so saving again (after a look at the history) goes through.
    """

    expected_version = forms.IntegerField(
        label=_("version"), widget=forms.HiddenInput, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["expected_version"].initial = self.instance.version

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            return cleaned
        try:
            customer_check_version(
                customer_id=self.instance.pk, expected_version=cleaned.get("expected_version")
            )
        except ValidationError as error:
            self.add_error(None, error)
            current = (
                Customer.objects.filter(pk=self.instance.pk)
                .values_list("version", flat=True)
                .first()
            )
            data = self.data.copy()
            data[self.add_prefix("expected_version")] = current
            self.data = data
        return cleaned


class CustomerAdminForm(CustomerVersionFormMixin, forms.ModelForm):
    """Read the customer's phone with the country of its default address, as a clerk would."""

    class Meta:
        model = Customer
        # The admin's fieldsets choose what is shown; read-only fields are left out of the form.
        fields = "__all__"  # noqa: DJ007

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

    def clean_phone(self):
        raw = (self.cleaned_data.get("phone") or "").strip()
        if not raw:
            return raw
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
