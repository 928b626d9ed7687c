"""The project's URLs plus the mapping step, as the lead will wire it in customer.py get_urls."""

from django.contrib import admin
from django.urls import path

from backoffice.urls import urlpatterns as project_urls
from customers.admin.import_mapping import import_mapping_view
from customers.models import Customer


def mapping_page(request, token: str):
    modeladmin = admin.site._registry[Customer]
    return admin.site.admin_view(lambda req: import_mapping_view(modeladmin, req, token))(request)


urlpatterns = [
    path("admin/customers/customer/import/<str:token>/columns/", mapping_page, name="mapping"),
    *project_urls,
]
