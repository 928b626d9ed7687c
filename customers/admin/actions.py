"""Bulk actions of the customer list: thin adapters over the services, each behind its own
permission and a confirmation page in the shape of Django's ``delete_selected``.

Each action is a plain function ``(modeladmin, request, queryset)``; the permissions it names
(``tag``, ``group``, ...) are ``has_<name>_permission`` methods of CustomerAdmin.

What an action does and how it reports is its ``Operation`` (in ``OPERATIONS``): the request runs
it for a selection up to BACKOFFICE_BULK_JOB_THRESHOLD customers; above that the confirmed page
starts a background job (``customers.jobs_bulk``) that runs the same operation in batches and the
user is taken to the job's progress page. The email action does the same above
BACKOFFICE_EMAIL_JOB_THRESHOLD customers with a mailing job."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from customers.admin.delete import delete_customers, report_deletion
from customers.admin.forms import TAG_SUGGESTIONS_ID, EmailForm, GroupForm, TagsForm
from customers.admin.mass_update import (
    MASS_UPDATE,
    mass_update_context,
    mass_update_form,
    mass_update_run,
    report_mass_update,
)
from customers.admin.reports import reasons_text, report
from customers.admin.selection import bound_form, confirmation_page
from customers.jobs_bulk import Operation, bulk_job_start, mailing_job_start
from customers.services.archiving import customers_archive, customers_unarchive
from customers.services.deletion import customers_delete
from customers.services.emailing import (
    EmailResult,
    EmailSkip,
    customers_email,
    customers_email_check,
    customers_email_preview,
)
from customers.services.grouping import customers_assign_group, customers_remove_group
from customers.services.mailing import (
    NOT_ACCEPTED,
    NOT_ACCEPTED_LABEL,
    NOT_CONFIRMED,
    NOT_CONFIRMED_LABEL,
    MailingState,
)
from customers.services.tagging import customers_add_tags, customers_remove_tags
from groups.models import CustomerGroup


def _no_data(form) -> dict:
    return {}


def bulk_confirmation_page(modeladmin, request, queryset, *, action: str, data=_no_data, **page):
    """``confirmation_page`` for the action ``OPERATIONS[action]``: run it in the request, or,
    above the threshold, start it as a job and show the job's progress page.

    ``data(form)`` gives the operation's input from the confirmed form, as JSON.
    """
    operation = OPERATIONS[action]
    started = []

    def apply(form, selection):
        if selection.count > settings.BACKOFFICE_BULK_JOB_THRESHOLD:
            started.append(
                bulk_job_start(
                    actor=request.user, action=action, selection=selection, data=data(form)
                )
            )
            return
        result = operation.run(request.user, selection.queryset, data(form))
        operation.report(modeladmin, request, result)

    response = confirmation_page(modeladmin, request, queryset, apply=apply, **page)
    return job_page(started[0]) if started else response


def job_page(job) -> HttpResponseRedirect:
    """Where the user follows a job they just started: its page, with the progress bar."""
    return HttpResponseRedirect(reverse("admin:jobs_job_change", args=[job.pk]))


# Tags
def _report_tags(sentence):
    def report_tags(modeladmin, request, result) -> None:
        for name, count in result.per_tag.items():
            modeladmin.message_user(
                request, sentence(count) % {"tag": name, "count": count}, messages.SUCCESS
            )

    return report_tags


def _tags(form) -> dict:
    return {"tags": form.cleaned_data["tags"]}


@admin.action(permissions=["tag"], description=gettext_lazy("Add tags to selected customers"))
def add_tags(modeladmin, request, queryset):
    return _tags_page(modeladmin, request, queryset, "add_tags", _("Add tags"), _("Add tags"))


@admin.action(permissions=["tag"], description=gettext_lazy("Remove tags from selected customers"))
def remove_tags(modeladmin, request, queryset):
    return _tags_page(
        modeladmin, request, queryset, "remove_tags", _("Remove tags"), _("Remove tags")
    )


def _tags_page(modeladmin, request, queryset, action, title, submit):
    return bulk_confirmation_page(
        modeladmin,
        request,
        queryset,
        action=action,
        data=_tags,
        title=title,
        submit=submit,
        form=bound_form(TagsForm, request),
        context={
            "tag_suggestions": TagsForm.suggestions(),
            "tag_suggestions_id": TAG_SUGGESTIONS_ID,
        },
    )


# Groups
def _group(form) -> dict:
    group = form.cleaned_data["group"]
    new_group = form.cleaned_data.get("new_group", "")
    return {"group": group.pk if group else None, "new_group": new_group}


def _assign_group(actor, customers, data):
    group = CustomerGroup.objects.get(pk=data["group"]) if data["group"] else None
    return customers_assign_group(
        actor=actor, customers=customers, group=group, group_name=data["new_group"]
    )


def _report_assigned(modeladmin, request, result) -> None:
    if result.group_created:
        modeladmin.message_user(request, _("Group “%(group)s” created.") % {"group": result.group})
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


@admin.action(
    permissions=["group"], description=gettext_lazy("Assign selected customers to a group")
)
def assign_group(modeladmin, request, queryset):
    can_create = request.user.has_perm("groups.add_customergroup")
    return bulk_confirmation_page(
        modeladmin,
        request,
        queryset,
        action="assign_group",
        data=_group,
        title=_("Assign to a group"),
        submit=_("Assign"),
        form=bound_form(GroupForm, request, can_create=can_create),
    )


def _report_removed_from_group(modeladmin, request, result) -> None:
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


@admin.action(
    permissions=["group"],
    description=gettext_lazy("Remove selected customers from their group"),
)
def remove_group(modeladmin, request, queryset):
    return bulk_confirmation_page(
        modeladmin,
        request,
        queryset,
        action="remove_group",
        title=_("Remove from group"),
        submit=_("Remove from group"),
    )


# Archive
def _report_archived(modeladmin, request, result) -> None:
    report(
        modeladmin,
        request,
        ngettext("%(count)d customer archived.", "%(count)d customers archived.", result.changed)
        % {"count": result.changed},
        result.skipped,
        ngettext(
            "%(count)d customer was not active and was left as it was.",
            "%(count)d customers were not active and were left as they were.",
            result.skipped,
        ),
    )


def _report_unarchived(modeladmin, request, result) -> None:
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


@admin.action(permissions=["archive"], description=gettext_lazy("Archive selected customers"))
def archive(modeladmin, request, queryset):
    return bulk_confirmation_page(
        modeladmin,
        request,
        queryset,
        action="archive",
        title=_("Archive customers"),
        submit=_("Archive"),
        context={
            "explanation": _(
                "Archived customers leave the default list and are not matched by imports "
                "until unarchived. Their orders and data stay."
            )
        },
    )


@admin.action(permissions=["archive"], description=gettext_lazy("Unarchive selected customers"))
def unarchive(modeladmin, request, queryset):
    return bulk_confirmation_page(
        modeladmin,
        request,
        queryset,
        action="unarchive",
        title=_("Unarchive customers"),
        submit=_("Unarchive"),
    )


# Email
def _report_email(modeladmin, request, result) -> None:
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


def report_mailing(modeladmin, request, state: MailingState) -> None:
    """Say what a mailing job delivered, skipped and failed, with the immediate path's words."""
    delivered = EmailResult(selected=state.selected, emailed=state.sent, skipped=state.skipped)
    _report_email(modeladmin, request, delivered)
    failed = sum(state.failed.values())
    if failed:
        modeladmin.message_user(
            request,
            ngettext(
                "%(count)d email could not be delivered (%(reasons)s).",
                "%(count)d emails could not be delivered (%(reasons)s).",
                failed,
            )
            % {"count": failed, "reasons": _failure_reasons(state.failed)},
            messages.ERROR,
        )


def _failure_reasons(failed: dict[str, int]) -> str:
    # Our own reasons have words; any other is the mail library's error name, as logged.
    labels = {NOT_CONFIRMED: NOT_CONFIRMED_LABEL, NOT_ACCEPTED: NOT_ACCEPTED_LABEL}
    return "; ".join(
        _("%(reason)s: %(count)d") % {"reason": labels.get(reason, reason), "count": count}
        for reason, count in sorted(failed.items())
    )


@admin.action(permissions=["email"], description=gettext_lazy("Email selected customers"))
def send_email(modeladmin, request, queryset):
    started = []

    def apply(form, selection):
        data = form.cleaned_data
        mail = {"subject": data["subject"], "body": data["body"], "marketing": data["marketing"]}
        if selection.count > settings.BACKOFFICE_EMAIL_JOB_THRESHOLD:
            # What the job would refuse (footer settings, the bulk permission) is said here.
            customers_email_check(
                actor=request.user, customers=selection.queryset, marketing=mail["marketing"]
            )
            started.append(mailing_job_start(actor=request.user, selection=selection, **mail))
            return
        result = customers_email(actor=request.user, customers=selection.queryset, **mail)
        _report_email(modeladmin, request, result)
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

    response = confirmation_page(
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
    return job_page(started[0]) if started else response


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


# Mass update
@admin.action(
    # Offered to whoever may make one of its changes; the form offers only those.
    permissions=["change", "tag", "group"],
    description=gettext_lazy("Edit selected customers"),
)
def mass_update(modeladmin, request, queryset):
    form = mass_update_form(request)
    return bulk_confirmation_page(
        modeladmin,
        request,
        queryset,
        action=MASS_UPDATE,
        data=lambda form: form.changes().as_data(),
        title=_("Edit customers"),
        submit=_("Apply the changes"),
        form=form,
        template="mass_update.html",
        context=lambda: mass_update_context(request, form),
    )


OPERATIONS: dict[str, Operation] = {
    "add_tags": Operation(
        run=lambda actor, customers, data: customers_add_tags(
            actor=actor, customers=customers, names=data["tags"]
        ),
        report=_report_tags(
            lambda count: ngettext(
                "Tag “%(tag)s” added to %(count)d customer.",
                "Tag “%(tag)s” added to %(count)d customers.",
                count,
            )
        ),
    ),
    "remove_tags": Operation(
        run=lambda actor, customers, data: customers_remove_tags(
            actor=actor, customers=customers, names=data["tags"]
        ),
        report=_report_tags(
            lambda count: ngettext(
                "Tag “%(tag)s” removed from %(count)d customer.",
                "Tag “%(tag)s” removed from %(count)d customers.",
                count,
            )
        ),
    ),
    "assign_group": Operation(run=_assign_group, report=_report_assigned),
    "remove_group": Operation(
        run=lambda actor, customers, data: customers_remove_group(actor=actor, customers=customers),
        report=_report_removed_from_group,
    ),
    "archive": Operation(
        run=lambda actor, customers, data: customers_archive(actor=actor, customers=customers),
        report=_report_archived,
    ),
    "unarchive": Operation(
        run=lambda actor, customers, data: customers_unarchive(actor=actor, customers=customers),
        report=_report_unarchived,
    ),
    "delete_customers": Operation(
        run=lambda actor, customers, data: customers_delete(actor=actor, customers=customers),
        report=report_deletion,
    ),
    MASS_UPDATE: Operation(run=mass_update_run, report=report_mass_update),
}

BULK_ACTIONS = [
    add_tags,
    remove_tags,
    assign_group,
    remove_group,
    archive,
    unarchive,
    send_email,
    mass_update,
    delete_customers,
]
