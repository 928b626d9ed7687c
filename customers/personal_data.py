"""The one classification of personal data: every field of every model that holds some.

Each model that can hold a person's data lists every one of its fields here, as personal (it
names, reaches or describes the person: erased, scrubbed, exported) or not (the shop's own
bookkeeping: ids, dates, money, codes). Audit, merge, redaction, the personal-data export and the
import read these lists; ``tests/customers/test_personal_data.py`` fails when a model gains a
field that is not classified, so a new field cannot silently survive an erasure.
"""

from __future__ import annotations

from django.db import models

from customers.models import (
    Address,
    Channel,
    Consent,
    ConsentSource,
    Customer,
    CustomerEvent,
    CustomerMerge,
    EventKind,
    Note,
    Order,
    Status,
    Tag,
    TaggedCustomer,
    TaggedOrder,
)

PERSONAL = True
NOT_PERSONAL = False

# --- customer -----------------------------------------------------------------------------

# Who the person is and how to reach them: what merge chooses value by value, what the change
# form audits, what erasure blanks.
CUSTOMER_IDENTITY_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "company",
    "username",
)
# What the person agreed to, and when and where: personal, with a history of its own.
CUSTOMER_CONSENT_FIELDS = (
    "email_consent",
    "email_consent_updated_at",
    "email_consent_source",
    "sms_consent",
    "sms_consent_updated_at",
    "sms_consent_source",
)
CUSTOMER_PERSONAL_FIELDS = (*CUSTOMER_IDENTITY_FIELDS, *CUSTOMER_CONSENT_FIELDS)
# The shop's bookkeeping on a customer. The tags are links to the store's tag set (the links go
# with an erasure, the tags stay); the erasure request fields are reset when it is carried out.
CUSTOMER_NOT_PERSONAL_FIELDS = (
    "id",
    "tax_exempt",
    "group",
    "tags",
    "source",
    "status",
    "merged_into",
    "has_active_subscription",
    "erasure_requested_at",
    "erasure_requested_by",
    "created_at",
    "updated_at",
    "version",
    # The order summary, derived from the orders (whose totals are not personal either).
    "order_count",
    "total_spent",
    "last_order_at",
    "spent_unconverted",
)
# Of the bookkeeping, what the change form records in the audit trail besides the identity.
CUSTOMER_AUDITED_BOOKKEEPING = ("tax_exempt", "group", "source", "status")

# --- address ------------------------------------------------------------------------------

# Where the person lives: every path that reads, copies, audits or exports an address uses this.
ADDRESS_PERSONAL_FIELDS = (
    "company",
    "address1",
    "address2",
    "city",
    "province_code",
    "postal_code",
    "country_code",
    "phone",
)
# ``match_key`` is computed by the database from the personal fields above: it goes with them.
ADDRESS_DERIVED_FIELDS = ("match_key",)
ADDRESS_NOT_PERSONAL_FIELDS = ("id", "customer", "is_default", "created_at")

# --- note, order, event, merge, tag link ----------------------------------------------------

NOTE_PERSONAL_FIELDS = ("body",)
NOTE_NOT_PERSONAL_FIELDS = ("id", "customer", "author", "created_at")

# The shipping-address snapshot is personal except these keys: tax reports need where goods
# went, and a country alone identifies no one.
ORDER_PERSONAL_FIELDS = ("shipping_address",)
ORDER_SNAPSHOT_KEPT_KEYS = ("country_code",)
ORDER_NOT_PERSONAL_FIELDS = (
    "id",
    "number",
    "customer",
    "placed_at",
    "total",
    "currency",
    "exchange_rate",
    "source",
    "tags",
)

# An event's payload may hold any earlier value of the customer (field diffs, note text,
# addresses): personal, except the codes of ours in ``SAFE_PAYLOAD_STRINGS``.
EVENT_PERSONAL_FIELDS = ("data",)
EVENT_NOT_PERSONAL_FIELDS = (
    "id",
    "customer",
    "customer_ref",
    "actor",
    "actor_label",
    "kind",
    "created_at",
)

# A merge's snapshots hold the survivor's values before and after: the keys of a snapshot that
# are personal are ``MERGE_SNAPSHOT_PERSONAL_KEYS``, the rest (group id, subscription, tax
# exemption) are bookkeeping. ``absorbed_before`` holds statuses, ``moved`` ids.
MERGE_PERSONAL_FIELDS = ("survivor_before", "survivor_after")
MERGE_NOT_PERSONAL_FIELDS = (
    "id",
    "survivor",
    "absorbed_ids",
    "actor",
    "actor_label",
    "created_at",
    "absorbed_before",
    "moved",
    "undone_at",
    "undone_by",
    "undone_by_label",
)
# A tag link says which tags a person carries: it goes with an erasure.
TAGGED_CUSTOMER_PERSONAL_FIELDS = ("tag", "content_object")
TAGGED_CUSTOMER_NOT_PERSONAL_FIELDS = ("id",)

CLASSIFICATION: dict[type[models.Model], tuple[tuple[str, ...], tuple[str, ...]]] = {
    Customer: (CUSTOMER_PERSONAL_FIELDS, CUSTOMER_NOT_PERSONAL_FIELDS),
    Address: ((*ADDRESS_PERSONAL_FIELDS, *ADDRESS_DERIVED_FIELDS), ADDRESS_NOT_PERSONAL_FIELDS),
    Note: (NOTE_PERSONAL_FIELDS, NOTE_NOT_PERSONAL_FIELDS),
    Order: (ORDER_PERSONAL_FIELDS, ORDER_NOT_PERSONAL_FIELDS),
    CustomerEvent: (EVENT_PERSONAL_FIELDS, EVENT_NOT_PERSONAL_FIELDS),
    CustomerMerge: (MERGE_PERSONAL_FIELDS, MERGE_NOT_PERSONAL_FIELDS),
    TaggedCustomer: (TAGGED_CUSTOMER_PERSONAL_FIELDS, TAGGED_CUSTOMER_NOT_PERSONAL_FIELDS),
}

# Models of the customers app that hold no personal data: the store's tag set, and which tags an
# order carries (copied from the customer's tags when the order came in; the order is the shop's).
MODELS_WITHOUT_PERSONAL_DATA: tuple[type[models.Model], ...] = (Tag, TaggedOrder)

# Strings in event payloads and merge snapshots that are codes of ours, not personal data.
SAFE_PAYLOAD_STRINGS = frozenset(
    {
        *Consent.values,
        *ConsentSource.values,
        *Channel.values,
        *Status.values,
        *EventKind.values,
        "email",
        "sms",
    }
)


def personal_fields(model: type[models.Model]) -> tuple[str, ...]:
    """The personal fields of a classified model."""
    return CLASSIFICATION[model][0]


def classified_fields(model: type[models.Model]) -> tuple[str, ...]:
    """Every field of a classified model, personal ones first."""
    personal, not_personal = CLASSIFICATION[model]
    return (*personal, *not_personal)


def customer_blank_values() -> dict[str, object]:
    """What erasure writes on a customer's personal fields: each field's empty default."""
    return {name: Customer._meta.get_field(name).get_default() for name in CUSTOMER_PERSONAL_FIELDS}


# The merge snapshot keys that are personal (the snapshot stores ``group_id``, not ``group``).
MERGE_SNAPSHOT_PERSONAL_KEYS = CUSTOMER_PERSONAL_FIELDS


def snapshot_scrub(snapshot: dict, *, blank: str) -> dict:
    """Replace the personal values of a customer snapshot (a merge's before/after) by ``blank``."""
    return {
        key: (blank if key in MERGE_SNAPSHOT_PERSONAL_KEYS and value not in (None, "") else value)
        for key, value in snapshot.items()
    }


def order_snapshot_scrub(snapshot) -> dict:
    """Keep only the non-personal keys of an order's shipping-address snapshot."""
    snapshot = snapshot if isinstance(snapshot, dict) else {}
    return {key: snapshot[key] for key in ORDER_SNAPSHOT_KEPT_KEYS if snapshot.get(key)}
