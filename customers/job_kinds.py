"""The customers app's background job kinds (found at start-up by backoffice.jobs).

Keep this a short list: each kind's handler lives in its own module.
"""

from django.utils.translation import gettext_lazy as _

from backoffice.jobs.registry import register_job_kind
from customers import jobs_bulk  # noqa: F401 - registers the bulk action and mailing kinds
from customers.admin.import_export import EXPORT, export_job
from customers.jobs_import import (
    IMPORT_CONFIRM,
    IMPORT_PREVIEW,
    import_confirm_job,
    import_preview_job,
)

register_job_kind(IMPORT_PREVIEW, import_preview_job, _("Import check"))
register_job_kind(IMPORT_CONFIRM, import_confirm_job, _("Import"))
register_job_kind(EXPORT, export_job, _("Export"))
