"""The two-factor pages, under the admin's prefix."""

from django.urls import path

from backoffice.staff import views

app_name = "staff"
urlpatterns = [
    path("setup/", views.two_factor_setup, name="two_factor_setup"),
    path("verify/", views.two_factor_verify, name="two_factor_verify"),
]
