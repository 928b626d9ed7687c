"""URL configuration: the admin is the back office."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from customers.unsubscribe import unsubscribe_view

admin.site.site_header = _("Customer back office")
admin.site.site_title = _("Customer back office")
admin.site.index_title = _("Customers, groups and orders")
# The back office is the whole site: no "View site" link that leads back here.
admin.site.site_url = None

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/two-factor/", include("backoffice.staff.urls")),
    path("admin/", admin.site.urls),
    path("unsubscribe/<str:token>/", unsubscribe_view, name="customer_unsubscribe"),
]

# A refused page keeps the admin's layout and says why.
handler403 = "backoffice.staff.views.permission_denied"
