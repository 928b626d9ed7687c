"""Public entry points of the sales channels: Shopify webhooks and the POS API."""

from django.urls import path

from customers.channels.api import api
from customers.channels.views import shopify_webhook

urlpatterns = [
    path("channels/shopify/<uuid:connection_uuid>/", shopify_webhook, name="shopify_webhook"),
    path("api/pos/v1/", api.urls),
]
