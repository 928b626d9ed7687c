"""seed_demo gives a newcomer realistic data to work with."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from customers.models import Address, Customer, Note, Order, TaggedOrder
from customers.phones import phone_to_e164
from groups.models import CustomerGroup

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _developer_machine(settings):
    # seed_demo refuses to run with debug off (tests/backoffice/test_seed_demo_safety.py).
    settings.DEBUG = True


def test_seed_demo_builds_realistic_data(capsys):
    call_command("seed_demo", customers=300)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8000/admin/" in out and "demo / demo" in out
    assert User.objects.get(username="demo").check_password("demo")
    assert Customer.objects.count() == 304  # 300 plus the planted duplicates
    assert CustomerGroup.objects.count() >= 3
    assert Note.objects.exists()
    # Accented names, several countries, phones valid and in E.164.
    assert Customer.objects.filter(last_name__in=["Núñez", "Lefèvre", "Müller", "Côté"]).exists()
    assert Address.objects.values("country_code").distinct().count() >= 4
    for phone in Customer.objects.exclude(phone="").values_list("phone", flat=True)[:200]:
        assert phone_to_e164(phone) == phone
    # Every address passes the model's rules, the military one included.
    military = Address.objects.get(city="APO")
    for address in Address.objects.all()[:300]:
        address.full_clean()
    assert military.province_code == "AE"
    # Some customers without orders; orders carry their customer's tags.
    assert Customer.objects.filter(order_count=0).exists()
    assert Order.objects.exists() and TaggedOrder.objects.exists()
    # Planted duplicates: one phone twice, one address written two ways.
    assert Customer.objects.filter(phone="+33612345678").count() == 2
    assert Address.objects.filter(postal_code="75002", address1__icontains="rue de la").count() == 2


def test_seed_demo_is_safe_to_run_again_and_can_reset():
    call_command("seed_demo", customers=20)
    call_command("seed_demo", customers=20)
    assert Customer.objects.count() == 24
    call_command("seed_demo", customers=10, reset=True)
    assert Customer.objects.count() == 14
