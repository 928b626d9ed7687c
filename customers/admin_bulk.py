"""Bulk actions of the customer list: thin adapters over the services, each behind its own
permission and a confirmation page in the shape of Django's ``delete_selected``."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from customers.admin_selection import ActionSelection
from customers.forms_bulk import TAG_SUGGESTIONS_ID, EmailForm, GroupForm, TagsForm
from customers.services.archiving import customers_archive, customers_unarchive
from customers.services.deletion import DeleteBlock, customers_delete, customers_deletion_plan
from customers.services.emailing import EmailSkip, customers_email, customers_email_preview
from customers.services.grouping import customers_assign_group, customers_remove_group
from customers.services.tagging import customers_add_tags, customers_remove_tags

TEMPLATE_DIR = "admin/customers/customer"
BULK_ACTIONS = [
    "add_tags",
    "remove_tags",
    "assign_group",
    "remove_group",
    "archive",
    "unarchive",
    "send_email",
    "delete_customers",
]


def _reasons_text(counts: dict[str, int], choices) -> str:
    """'label: count; ...' in the order the reasons are declared."""
    return "; ".join(
        _("%(reason)s: %(count)d") % {"reason": choice.label, "count": counts[choice]}
        for choice in choices
        if counts.get(choice)
    )


class CustomerBulkActionsMixin:
    """Tag, group, archive, email and delete selected customers (or all matching the filters)."""

    # Permissions, one per sensitive action (Django's action ``permissions=["tag"]`` calls these).
    def has_tag_permission(self, request):
        return request.user.has_perm("customers.tag_customer")

    def has_group_permission(self, request):
        return request.user.has_perm("customers.group_customer")

    def has_archive_permission(self, request):
        return request.user.has_perm("customers.archive_customer")

    def has_email_permission(self, request):
        return request.user.has_perm("customers.email_customer")

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Django's delete_selected deletes without the guard: delete_customers replaces it.
        actions.pop("delete_selected", None)
        return actions

    # The confirmation page every action shares.
    def _confirm(
        self,
        request,
        queryset,
        *,
        title: str,
        submit: str,
        apply: Callable[[forms.Form, ActionSelection], None],
        form: forms.Form | None = None,
        template: str = "bulk_action.html",
        context: dict | Callable[[], dict] | None = None,
    ):
        """Show the confirmation page; on ``post=yes`` with a valid form and the same selection,
        run ``apply`` and return to the list (None makes Django redirect there)."""
        selection = ActionSelection.from_request(self, request, queryset)
        if form is None:  # nothing to type: the page only confirms
            form = forms.Form(request.POST if request.POST.get("post") else None)
        if request.POST.get("post") == "yes" and not selection.changed and form.is_valid():
            try:
                apply(form, selection)
                return None
            except ValidationError as error:
                # A service's error may name a model field the form does not have ("name").
                form.add_error(None, ValidationError(error.messages))
        ctx = {
            **self.admin_site.each_context(request),
            "title": title,
            "submit_label": submit,
            "opts": self.model._meta,
            "selection": selection,
            "form": form,
            "media": self.media + form.media,
            # Built only when the page is shown: the delete plan reads the whole selection.
            **((context() if callable(context) else context) or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, f"{TEMPLATE_DIR}/{template}", ctx)

    def _bound(self, form_class, request, **kwargs):
        return form_class(request.POST if request.POST.get("post") else None, **kwargs)

    # Tags
    @admin.action(permissions=["tag"], description=gettext_lazy("Add tags to selected customers"))
    def add_tags(self, request, queryset):
        def apply(form, selection):
            result = customers_add_tags(
                actor=request.user, customers=selection.queryset, names=form.cleaned_data["tags"]
            )
            for name, count in result.per_tag.items():
                self.message_user(
                    request,
                    ngettext(
                        "Tag “%(tag)s” added to %(count)d customer.",
                        "Tag “%(tag)s” added to %(count)d customers.",
                        count,
                    )
                    % {"tag": name, "count": count},
                    messages.SUCCESS,
                )

        return self._tags_page(request, queryset, _("Add tags"), _("Add tags"), apply)

    @admin.action(
        permissions=["tag"], description=gettext_lazy("Remove tags from selected customers")
    )
    def remove_tags(self, request, queryset):
        def apply(form, selection):
            result = customers_remove_tags(
                actor=request.user, customers=selection.queryset, names=form.cleaned_data["tags"]
            )
            for name, count in result.per_tag.items():
                self.message_user(
                    request,
                    ngettext(
                        "Tag “%(tag)s” removed from %(count)d customer.",
                        "Tag “%(tag)s” removed from %(count)d customers.",
                        count,
                    )
                    % {"tag": name, "count": count},
                    messages.SUCCESS,
                )

        return self._tags_page(request, queryset, _("Remove tags"), _("Remove tags"), apply)

    def _tags_page(self, request, queryset, title, submit, apply):
        return self._confirm(
            request,
            queryset,
            title=title,
            submit=submit,
            apply=apply,
            form=self._bound(TagsForm, request),
            context={
                "tag_suggestions": TagsForm.suggestions(),
                "tag_suggestions_id": TAG_SUGGESTIONS_ID,
            },
        )

    # Groups
    @admin.action(
        permissions=["group"], description=gettext_lazy("Assign selected customers to a group")
    )
    def assign_group(self, request, queryset):
        can_create = request.user.has_perm("groups.add_customergroup")

        def apply(form, selection):
            result = customers_assign_group(
                actor=request.user,
                customers=selection.queryset,
                group=form.cleaned_data["group"],
                group_name=form.cleaned_data.get("new_group", ""),
            )
            if result.group_created:
                self.message_user(
                    request, _("Group “%(group)s” created.") % {"group": result.group}
                )
            self._report(
                request,
                ngettext(
                    "%(count)d customer moved to group “%(group)s”.",
                    "%(count)d customers moved to group “%(group)s”.",
                    result.changed,
                )
                % {"count": result.changed, "group": result.group},
                result.selected - result.changed,
                ngettext(
                    "%(count)d customer was already in it.",
                    "%(count)d customers were already in it.",
                    result.selected - result.changed,
                ),
            )

        return self._confirm(
            request,
            queryset,
            title=_("Assign to a group"),
            submit=_("Assign"),
            apply=apply,
            form=self._bound(GroupForm, request, can_create=can_create),
        )

    @admin.action(
        permissions=["group"],
        description=gettext_lazy("Remove selected customers from their group"),
    )
    def remove_group(self, request, queryset):
        def apply(form, selection):
            result = customers_remove_group(actor=request.user, customers=selection.queryset)
            self._report(
                request,
                ngettext(
                    "%(count)d customer removed from its group.",
                    "%(count)d customers removed from their group.",
                    result.changed,
                )
                % {"count": result.changed},
                result.selected - result.changed,
                ngettext(
                    "%(count)d customer was in no group.",
                    "%(count)d customers were in no group.",
                    result.selected - result.changed,
                ),
            )

        return self._confirm(
            request,
            queryset,
            title=_("Remove from group"),
            submit=_("Remove from group"),
            apply=apply,
        )

    # Archive
    @admin.action(permissions=["archive"], description=gettext_lazy("Archive selected customers"))
    def archive(self, request, queryset):
        def apply(form, selection):
            result = customers_archive(actor=request.user, customers=selection.queryset)
            self._report(
                request,
                ngettext(
                    "%(count)d customer archived.", "%(count)d customers archived.", result.changed
                )
                % {"count": result.changed},
                result.skipped,
                ngettext(
                    "%(count)d customer was not active and was left as it was.",
                    "%(count)d customers were not active and were left as they were.",
                    result.skipped,
                ),
            )

        return self._confirm(
            request,
            queryset,
            title=_("Archive customers"),
            submit=_("Archive"),
            apply=apply,
            context={
                "explanation": _(
                    "Archived customers leave the default list and are not matched by imports "
                    "until unarchived. Their orders and data stay."
                )
            },
        )

    @admin.action(permissions=["archive"], description=gettext_lazy("Unarchive selected customers"))
    def unarchive(self, request, queryset):
        def apply(form, selection):
            result = customers_unarchive(actor=request.user, customers=selection.queryset)
            self._report(
                request,
                ngettext(
                    "%(count)d customer unarchived.",
                    "%(count)d customers unarchived.",
                    result.changed,
                )
                % {"count": result.changed},
                result.skipped,
                ngettext(
                    "%(count)d customer was not archived and was left as it was.",
                    "%(count)d customers were not archived and were left as they were.",
                    result.skipped,
                ),
            )

        return self._confirm(
            request, queryset, title=_("Unarchive customers"), submit=_("Unarchive"), apply=apply
        )

    # Email
    @admin.action(permissions=["email"], description=gettext_lazy("Email selected customers"))
    def send_email(self, request, queryset):
        def apply(form, selection):
            data = form.cleaned_data
            result = customers_email(
                actor=request.user,
                customers=selection.queryset,
                subject=data["subject"],
                body=data["body"],
                marketing=data["marketing"],
            )
            skipped = sum(result.skipped.values())
            self._report(
                request,
                ngettext(
                    "Email sent to %(count)d customer.",
                    "Email sent to %(count)d customers.",
                    result.emailed,
                )
                % {"count": result.emailed},
                skipped,
                ngettext(
                    "%(count)d customer skipped (%(reasons)s).",
                    "%(count)d customers skipped (%(reasons)s).",
                    skipped,
                ),
                reasons=_reasons_text(result.skipped, EmailSkip),
            )
            if result.failed:
                self.message_user(
                    request,
                    ngettext(
                        "%(count)d email could not be handed to the mail server; see the log.",
                        "%(count)d emails could not be handed to the mail server; see the log.",
                        result.failed,
                    )
                    % {"count": result.failed},
                    messages.ERROR,
                )

        return self._confirm(
            request,
            queryset,
            title=_("Email customers"),
            submit=_("Send"),
            apply=apply,
            form=self._bound(EmailForm, request),
            template="email_confirmation.html",
            context=lambda: self._email_context(queryset),
        )

    def _email_context(self, queryset) -> dict:
        preview = customers_email_preview(customers=queryset)
        return {
            "explanation": _(
                "One message per customer with an email address. Merged, archived and "
                "redacted customers, those with a pending erasure request and, for a "
                "marketing email, those not subscribed are skipped and counted."
            ),
            "preview": preview,
            "preview_skipped": _reasons_text(preview.skipped, EmailSkip),
        }

    # Delete
    @admin.action(permissions=["delete"], description=gettext_lazy("Delete selected customers"))
    def delete_customers(self, request, queryset):
        def apply(form, selection):
            result = customers_delete(actor=request.user, customers=selection.queryset)
            self._report_deletion(request, result)

        return self._confirm(
            request,
            queryset,
            title=_("Delete customers"),
            submit=_("Yes, delete the deletable ones"),
            apply=apply,
            template="delete_confirmation.html",
            context=lambda: self._deletion_context(customers_deletion_plan(customers=queryset)),
        )

    def _deletion_context(self, plan) -> dict:
        return {
            "plan": plan,
            "kept_lines": [
                (kept, DeleteBlock(reason).label) for kept in plan.kept for reason in kept.reasons
            ],
            "kept_by_reason": [
                (DeleteBlock(reason).label, count) for reason, count in plan.kept_by_reason.items()
            ],
        }

    def _report_deletion(self, request, result) -> None:
        kept = len(result.kept)
        self._report(
            request,
            ngettext("%(count)d customer deleted.", "%(count)d customers deleted.", result.deleted)
            % {"count": result.deleted},
            kept,
            ngettext(
                "%(count)d customer kept (%(reasons)s).",
                "%(count)d customers kept (%(reasons)s).",
                kept,
            ),
            reasons=_reasons_text(result.kept_by_reason, DeleteBlock),
        )

    def _report(self, request, done: str, other: int, other_message: str, **params) -> None:
        self.message_user(request, done, messages.SUCCESS)
        if other:
            self.message_user(request, other_message % {"count": other, **params}, messages.WARNING)

    # The change page's delete button goes through the same guard.
    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        # Deleting a customer one may not even look at would be deleting blind.
        if not (
            self.has_delete_permission(request, obj)
            and self.has_view_or_change_permission(request, obj)
        ):
            raise PermissionDenied
        plan = customers_deletion_plan(customers=[obj.pk])
        if request.method == "POST" and request.POST.get("post") == "yes" and not plan.kept:
            result = customers_delete(actor=request.user, customers=[obj.pk])
            self._report_deletion(request, result)
            url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Delete customer"),
            "opts": self.opts,
            "object": obj,
            "submit_label": _("Yes, delete"),
            **self._deletion_context(plan),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, f"{TEMPLATE_DIR}/delete_one_confirmation.html", context)

    def delete_model(self, request, obj):
        # Any other path to deletion still goes through the guard.
        self._report_deletion(request, customers_delete(actor=request.user, customers=[obj.pk]))

    def delete_queryset(self, request, queryset):
        self._report_deletion(request, customers_delete(actor=request.user, customers=queryset))
