"""Property tests: for random customers, a merge loses nothing and an undo restores everything."""

from __future__ import annotations

from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from customers.models import (
    Address,
    Customer,
    CustomerMerge,
    Note,
    Order,
    TaggedCustomer,
)
from customers.services.merge import customer_unmerge, customers_merge
from customers.services.order_summary import order_summaries_refresh

TAGS = ["VIP", "vip", "Wholesale", "pos", "Newsletter"]
STREETS = ["1 Main St", "1 main st.", "2 Oak Ave", "PSC 1234 BOX 5678"]
CONSENTS = ["subscribed", "not_subscribed", "unsubscribed"]

address_st = st.fixed_dictionaries(
    {
        "address1": st.sampled_from(STREETS),
        "address2": st.sampled_from(["", "Apt 2", "apt. 2"]),
        "postal_code": st.sampled_from(["02114", "02 114", "75001"]),
        "country_code": st.sampled_from(["US", "FR"]),
        "is_default": st.booleans(),
    }
)
customer_st = st.fixed_dictionaries(
    {
        "first_name": st.sampled_from(["", "Ana", "Jo"]),
        "company": st.sampled_from(["", "ACME"]),
        "phone": st.sampled_from(["", "+16175551212"]),
        "email_consent": st.sampled_from(CONSENTS),
        "sms_consent": st.sampled_from(CONSENTS),
        "tax_exempt": st.booleans(),
        "orders": st.integers(min_value=0, max_value=4),
        "notes": st.integers(min_value=0, max_value=3),
        "addresses": st.lists(address_st, max_size=3),
        "tags": st.lists(st.sampled_from(TAGS), max_size=4),
    }
)


def build(specs: list[dict]) -> list[Customer]:
    customers = []
    for index, spec in enumerate(specs):
        customer = Customer.objects.create(
            email=f"c{index}@example.com",
            first_name=spec["first_name"],
            company=spec["company"],
            phone=spec["phone"],
            email_consent=spec["email_consent"],
            sms_consent=spec["sms_consent"],
            tax_exempt=spec["tax_exempt"],
        )
        if spec["tags"]:
            customer.tags.add(*spec["tags"])  # taggit folds VIP/vip into one tag
        Order.objects.bulk_create(
            Order(customer=customer, number=f"{index}-{n}", total="1.00", source="pos")
            for n in range(spec["orders"])
        )
        order_summaries_refresh(customer_ids=[customer.pk])
        Note.objects.bulk_create(
            Note(customer=customer, body=f"note {n}") for n in range(spec["notes"])
        )
        has_default = False
        for address in spec["addresses"]:
            default = address["is_default"] and not has_default
            has_default = has_default or default
            Address.objects.create(customer=customer, **{**address, "is_default": default})
        customers.append(customer)
    return customers


def state() -> dict:
    """Everything a merge may touch, except versions and update times."""
    skip = {"version", "updated_at"}
    customer_fields = [f.attname for f in Customer._meta.concrete_fields if f.attname not in skip]
    return {
        "customers": sorted(Customer.objects.values_list(*customer_fields)),
        "orders": sorted(Order.objects.values_list("pk", "customer_id")),
        "notes": sorted(Note.objects.values_list("pk", "customer_id", "body")),
        "addresses": sorted(Address.objects.values_list()),
        "tags": sorted(TaggedCustomer.objects.values_list("content_object_id", "tag_id")),
    }


class MergePropertyTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.actor = User.objects.create_superuser("prop", "prop@example.com", "pw")

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        specs=st.lists(customer_st, min_size=2, max_size=5),
        survivor_index=st.integers(min_value=0, max_value=4),
    )
    def test_merge_loses_nothing_and_undo_restores_everything(self, specs, survivor_index):
        customers = build(specs)
        survivor = customers[survivor_index % len(customers)]
        absorbed = [c for c in customers if c.pk != survivor.pk]
        ids = [c.pk for c in customers]
        before = state()
        tags_before = set(
            TaggedCustomer.objects.filter(content_object__in=ids).values_list("tag_id", flat=True)
        )

        result = customers_merge(
            actor=self.actor, survivor_id=survivor.pk, absorbed_ids=[c.pk for c in absorbed]
        )

        # Every order and note is now the survivor's.
        assert Order.objects.filter(customer_id=survivor.pk).count() == len(before["orders"])
        assert Note.objects.filter(customer_id=survivor.pk).count() == len(before["notes"])
        # Every address is on the survivor, or folded (recorded) onto an identical one of it.
        record = CustomerMerge.objects.get(pk=result.merge.pk)
        folded = {
            int(pk): into
            for moved in record.moved.values()
            for pk, into in moved["addresses_folded"].items()
        }
        on_survivor = set(
            Address.objects.filter(customer_id=survivor.pk).values_list("pk", flat=True)
        )
        assert Address.objects.count() == len(before["addresses"])
        assert on_survivor | set(folded) == {row[0] for row in before["addresses"]}
        assert set(folded.values()) <= on_survivor
        assert Address.objects.filter(customer_id=survivor.pk, is_default=True).count() <= 1
        # No tag is lost, and no absorbed record stays active.
        assert set(survivor.tags.values_list("pk", flat=True)) == tags_before
        assert set(
            Customer.objects.filter(pk__in=[c.pk for c in absorbed]).values_list(
                "status", "merged_into_id"
            )
        ) == {("merged", survivor.pk)}

        customer_unmerge(actor=self.actor, merge_id=result.merge.pk)

        assert state() == before
