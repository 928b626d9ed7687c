"""The customers app's background job kinds (found at start-up by backoffice.jobs).

Keep this a short list: each kind's handler lives in its own module.
"""

from django.utils.translation import gettext_lazy as _

from backoffice.jobs.registry import register_job_kind
from customers import jobs_bulk  # registers the bulk action and mailing kinds
from customers.admin.import_export import EXPORT, export_job
from customers.admin.mass_update import MASS_UPDATE
from customers.jobs_import import (
    IMPORT_CONFIRM,
    IMPORT_PREVIEW,
    import_confirm_job,
    import_preview_job,
)

register_job_kind(IMPORT_PREVIEW, import_preview_job, _("Import check"))
register_job_kind(IMPORT_CONFIRM, import_confirm_job, _("Import"))
register_job_kind(EXPORT, export_job, _("Export"))
# "Edit selected customers" above the threshold: the list's bulk-action job, its own label.
register_job_kind(
    jobs_bulk.BULK_PREFIX + MASS_UPDATE, jobs_bulk.bulk_action_run, _("Edit customers")
)
