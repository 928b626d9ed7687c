"""The anchor model: six plain columns, as a small app starts out."""

from django.db import models


class Person(models.Model):
    first_name = models.CharField(max_length=150)
    last_name = models.CharField(max_length=150)
    email = models.EmailField()
    phone = models.CharField(max_length=20)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        app_label = "anchor"

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"
