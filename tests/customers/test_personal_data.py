"""The classification of personal data covers every field of every model that can hold some."""

import pytest
from django.apps import apps

from customers import personal_data
from customers.models import Address, Consent, Customer, Order, Status
from customers.personal_data import (
    CLASSIFICATION,
    MODELS_WITHOUT_PERSONAL_DATA,
    customer_blank_values,
    order_snapshot_scrub,
    snapshot_scrub,
)


def _all_fields(model) -> set[str]:
    """Every field a row of ``model`` stores, including generated columns and tag managers."""
    return {
        f.name
        for f in model._meta.get_fields()
        if f.concrete or (f.many_to_many and not f.auto_created)
    }


@pytest.mark.parametrize("model", list(CLASSIFICATION), ids=lambda m: m.__name__)
def test_every_field_is_classified_once(model):
    """A field added to a model later must be classified personal or not (or this fails)."""
    personal, not_personal = CLASSIFICATION[model]
    assert set(personal) | set(not_personal) == _all_fields(model)
    assert not set(personal) & set(not_personal)
    assert len(personal) + len(not_personal) == len(_all_fields(model))


def test_every_model_that_can_hold_personal_data_is_classified():
    """Every model of the customers app, and every model pointing at a customer, is covered."""
    covered = set(CLASSIFICATION) | set(MODELS_WITHOUT_PERSONAL_DATA)
    must_be_covered = {
        model
        for model in apps.get_models()
        if model._meta.app_label == "customers"
        or any(
            f.is_relation and f.related_model is Customer and f.concrete
            for f in model._meta.get_fields()
        )
    }
    assert must_be_covered - covered == set()


def test_a_field_missing_from_the_classification_is_caught(monkeypatch):
    """The check above can fail: drop one field from the lists and it sees the gap."""
    personal, not_personal = CLASSIFICATION[Customer]
    monkeypatch.setitem(
        CLASSIFICATION, Customer, (tuple(n for n in personal if n != "username"), not_personal)
    )
    personal, not_personal = CLASSIFICATION[Customer]
    assert _all_fields(Customer) - (set(personal) | set(not_personal)) == {"username"}


def test_blank_values_are_each_fields_empty_default():
    assert customer_blank_values() == {
        "first_name": "",
        "last_name": "",
        "email": "",
        "phone": "",
        "date_of_birth": None,
        "company": "",
        "username": "",
        "email_consent": Consent.NOT_SUBSCRIBED,
        "email_consent_updated_at": None,
        "email_consent_source": "",
        "sms_consent": Consent.NOT_SUBSCRIBED,
        "sms_consent_updated_at": None,
        "sms_consent_source": "",
        "shopify_id": "",
    }


def test_snapshot_scrubs_keep_only_bookkeeping():
    before = {
        "first_name": "Ana",
        "email": "ana@example.com",
        "date_of_birth": "1990-02-03",
        "email_consent": "subscribed",
        "company": "",
        "group_id": 4,
        "tax_exempt": True,
    }
    assert snapshot_scrub(before, blank="[redacted]") == {
        "first_name": "[redacted]",
        "email": "[redacted]",
        "date_of_birth": "[redacted]",
        "email_consent": "[redacted]",
        "company": "",
        "group_id": 4,
        "tax_exempt": True,
    }
    assert order_snapshot_scrub(
        {"address1": "1 Main St", "city": "Boston", "country_code": "US"}
    ) == {"country_code": "US"}
    assert order_snapshot_scrub("not a dict") == {}


def test_the_lists_other_modules_read_are_the_classification():
    from customers.services import editing, merge, privacy

    assert set(privacy.CUSTOMER_EXPORT_FIELDS) == _all_fields(Customer)
    assert set(privacy.ADDRESS_EXPORT_FIELDS) == _all_fields(Address) - {"customer", "match_key"}
    assert set(privacy.ORDER_EXPORT_FIELDS) == _all_fields(Order) - {"customer"}
    assert set(merge.MERGE_FIELDS) == {*personal_data.CUSTOMER_IDENTITY_FIELDS, "tax_exempt"}
    assert set(editing.AUDITED_ADDRESS_FIELDS) == {
        "is_default",
        *personal_data.ADDRESS_PERSONAL_FIELDS,
    }
    assert {
        **customer_blank_values(),
        "erasure_requested_at": None,
        "erasure_requested_by": None,
        "merged_into": None,
        "status": Status.REDACTED,
    } == privacy.REDACTED_VALUES
