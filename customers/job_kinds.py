"""The customers app's background job kinds (found at start-up by ``backoffice.jobs``)."""

from customers import jobs_bulk  # noqa: F401 - registers the bulk action and mailing kinds
