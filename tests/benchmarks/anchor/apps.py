from django.apps import AppConfig


class AnchorConfig(AppConfig):
    name = "tests.benchmarks.anchor"
    label = "anchor"
    default_auto_field = "django.db.models.BigAutoField"
