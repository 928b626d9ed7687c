"""Bulk actions of the customer list: thin adapters over the services, each behind its own
permission and a confirmation page in the shape of Django's ``delete_selected``.

Each action is a plain function ``(modeladmin, request, queryset)``; the permissions it names
(``tag``, ``group``, ...) are ``has_<name>_permission`` methods of CustomerAdmin."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from customers.admin.delete import delete_customers
from customers.admin.forms import TAG_SUGGESTIONS_ID, EmailForm, GroupForm, TagsForm
from customers.admin.reports import reasons_text, report
from customers.admin.selection import bound_form, confirmation_page
from customers.services.archiving import customers_archive, customers_unarchive
from customers.services.emailing import EmailSkip, customers_email, customers_email_preview
from customers.services.grouping import customers_assign_group, customers_remove_group
from customers.services.tagging import customers_add_tags, customers_remove_tags


# Tags
@admin.action(permissions=["tag"], description=gettext_lazy("Add tags to selected customers"))
def add_tags(modeladmin, request, queryset):
    def apply(form, selection):
        result = customers_add_tags(
            actor=request.user, customers=selection.queryset, names=form.cleaned_data["tags"]
        )
        for name, count in result.per_tag.items():
            modeladmin.message_user(
                request,
                ngettext(
                    "Tag “%(tag)s” added to %(count)d customer.",
                    "Tag “%(tag)s” added to %(count)d customers.",
                    count,
                )
                % {"tag": name, "count": count},
                messages.SUCCESS,
            )

    return _tags_page(modeladmin, request, queryset, _("Add tags"), _("Add tags"), apply)


@admin.action(permissions=["tag"], description=gettext_lazy("Remove tags from selected customers"))
def remove_tags(modeladmin, request, queryset):
    def apply(form, selection):
        result = customers_remove_tags(
            actor=request.user, customers=selection.queryset, names=form.cleaned_data["tags"]
        )
        for name, count in result.per_tag.items():
            modeladmin.message_user(
                request,
                ngettext(
                    "Tag “%(tag)s” removed from %(count)d customer.",
                    "Tag “%(tag)s” removed from %(count)d customers.",
                    count,
                )
                % {"tag": name, "count": count},
                messages.SUCCESS,
            )

    return _tags_page(modeladmin, request, queryset, _("Remove tags"), _("Remove tags"), apply)


def _tags_page(modeladmin, request, queryset, title, submit, apply):
    return confirmation_page(
        modeladmin,
        request,
        queryset,
        title=title,
        submit=submit,
        apply=apply,
        form=bound_form(TagsForm, request),
        context={
            "tag_suggestions": TagsForm.suggestions(),
            "tag_suggestions_id": TAG_SUGGESTIONS_ID,
        },
    )


# Groups
@admin.action(
    permissions=["group"], description=gettext_lazy("Assign selected customers to a group")
)
def assign_group(modeladmin, request, queryset):
    can_create = request.user.has_perm("groups.add_customergroup")

    def apply(form, selection):
        result = customers_assign_group(
            actor=request.user,
            customers=selection.queryset,
            group=form.cleaned_data["group"],
            group_name=form.cleaned_data.get("new_group", ""),
        )
        if result.group_created:
            modeladmin.message_user(
                request, _("Group “%(group)s” created.") % {"group": result.group}
            )
        report(
            modeladmin,
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

    return confirmation_page(
        modeladmin,
        request,
        queryset,
        title=_("Assign to a group"),
        submit=_("Assign"),
        apply=apply,
        form=bound_form(GroupForm, request, can_create=can_create),
    )


@admin.action(
    permissions=["group"],
    description=gettext_lazy("Remove selected customers from their group"),
)
def remove_group(modeladmin, request, queryset):
    def apply(form, selection):
        result = customers_remove_group(actor=request.user, customers=selection.queryset)
        report(
            modeladmin,
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

    return confirmation_page(
        modeladmin,
        request,
        queryset,
        title=_("Remove from group"),
        submit=_("Remove from group"),
        apply=apply,
    )


# Archive
@admin.action(permissions=["archive"], description=gettext_lazy("Archive selected customers"))
def archive(modeladmin, request, queryset):
    def apply(form, selection):
        result = customers_archive(actor=request.user, customers=selection.queryset)
        report(
            modeladmin,
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

    return confirmation_page(
        modeladmin,
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
def unarchive(modeladmin, request, queryset):
    def apply(form, selection):
        result = customers_unarchive(actor=request.user, customers=selection.queryset)
        report(
            modeladmin,
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

    return confirmation_page(
        modeladmin,
        request,
        queryset,
        title=_("Unarchive customers"),
        submit=_("Unarchive"),
        apply=apply,
    )


# Email
@admin.action(permissions=["email"], description=gettext_lazy("Email selected customers"))
def send_email(modeladmin, request, queryset):
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
        report(
            modeladmin,
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
            reasons=reasons_text(result.skipped, EmailSkip),
        )
        if result.failed:
            modeladmin.message_user(
                request,
                ngettext(
                    "%(count)d email could not be handed to the mail server; see the log.",
                    "%(count)d emails could not be handed to the mail server; see the log.",
                    result.failed,
                )
                % {"count": result.failed},
                messages.ERROR,
            )

    return confirmation_page(
        modeladmin,
        request,
        queryset,
        title=_("Email customers"),
        submit=_("Send"),
        apply=apply,
        form=bound_form(EmailForm, request),
        template="email_confirmation.html",
        context=lambda: _email_context(queryset),
    )


def _email_context(queryset) -> dict:
    preview = customers_email_preview(customers=queryset)
    return {
        "explanation": _(
            "One message per customer with an email address. Merged, archived and "
            "redacted customers, those with a pending erasure request and, for a "
            "marketing email, those not subscribed are skipped and counted."
        ),
        "preview": preview,
        "preview_skipped": reasons_text(preview.skipped, EmailSkip),
    }


BULK_ACTIONS = [
    add_tags,
    remove_tags,
    assign_group,
    remove_group,
    archive,
    unarchive,
    send_email,
    delete_customers,
]
