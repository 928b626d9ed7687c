"""Forms of the bulk actions' confirmation pages (tags, group, email)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from taggit.forms import TagField

from customers.models import Tag
from customers.services.emailing import email_template_check
from customers.services.tagging import TAG_NAMES_EMPTY, tag_names_clean
from groups.models import CustomerGroup

TAG_SUGGESTIONS_ID = "customer-tag-suggestions"
TAG_SUGGESTIONS_MAX = 1000
GROUP_CHOOSE_ONE = _("Choose a group or type the name of a new one, not both.")
GROUP_MISSING = _("Choose a group or type the name of a new one.")


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
