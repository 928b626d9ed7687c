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
    ChannelConnection,
    ChannelCustomerLink,
    ChannelEvent,
    ChannelOrderLink,
    Consent,
    ConsentSource,
    Customer,
    CustomerEvent,
    CustomerMerge,
    DuplicateKey,
    DuplicateKeyGroup,
    EventKind,
    ExportRecord,
    ImportMapping,
    Mailing,
    Note,
    Order,
    Segment,
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
# The previous platform's id of the person (a Shopify export's Customer ID): it reaches them
# there, so an erasure blanks it; merge and the change form leave it alone.
CUSTOMER_PLATFORM_ID_FIELDS = ("shopify_id",)
CUSTOMER_PERSONAL_FIELDS = (
    *CUSTOMER_IDENTITY_FIELDS,
    *CUSTOMER_CONSENT_FIELDS,
    *CUSTOMER_PLATFORM_ID_FIELDS,
)
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
    "counted_order_count",
    "average_order_value",
    # The previous platform's order totals: the shop's money, like an order's total.
    "previous_total_spent",
    "previous_total_orders",
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

# --- sales channels ------------------------------------------------------------------------

# A channel's own id for a person (the Shopify customer id) reaches that person in the channel:
# erasure drops the link. Which of our customers it points at is the link itself.
CHANNEL_CUSTOMER_LINK_PERSONAL_FIELDS = ("external_id",)
CHANNEL_CUSTOMER_LINK_NOT_PERSONAL_FIELDS = (
    "id",
    "connection",
    "customer_ref",
    "remote_updated_at",
)
# An order's id in the channel is bookkeeping, like its number.
CHANNEL_ORDER_LINK_NOT_PERSONAL_FIELDS = (
    "id",
    "connection",
    "external_id",
    "order",
    "remote_updated_at",
)
# A delivery's raw body is the whole customer or order as the channel sent it, and a failure's
# reason may quote an email: both are emptied by an erasure. The headers are Shopify's (topic,
# shop, webhook and event ids, times); with the state they keep every delivery accounted for.
CHANNEL_EVENT_PERSONAL_FIELDS = ("body", "error")
CHANNEL_EVENT_NOT_PERSONAL_FIELDS = (
    "id",
    "connection",
    "topic",
    "webhook_id",
    "event_id",
    "headers",
    "received_at",
    "state",
    "attempts",
    "customer_ref",
    "order",
    "processed_at",
)

# A mailing keeps the subject and text as typed, placeholders unfilled (who got it is in each
# recipient's EMAILED event); a one-off mail may still name its recipient ("A word for Mrs
# Quillfeather"): personal, scrubbed of an erased person's names and contacts. An export
# record's selection may hold a list search (an email, a name): personal; its columns and
# counts are not.
MAILING_PERSONAL_FIELDS = ("subject", "body")
MAILING_NOT_PERSONAL_FIELDS = (
    "id",
    "actor",
    "actor_label",
    "created_at",
    "marketing",
    "selected",
    "recipients",
)
EXPORT_RECORD_PERSONAL_FIELDS = ("selection",)
EXPORT_RECORD_NOT_PERSONAL_FIELDS = (
    "id",
    "actor",
    "actor_label",
    "created_at",
    "kind",
    "origin",
    "columns",
    "rows",
)
# A segment is a saved list query: its conditions may hold a list search (an email, a name), as
# an export record's selection does: personal. Its name, flags, authors and dates are not.
SEGMENT_PERSONAL_FIELDS = ("conditions", "any_of")
SEGMENT_NOT_PERSONAL_FIELDS = (
    "id",
    "name",
    "shared",
    "created_by",
    "created_at",
    "updated_by",
    "updated_at",
)

# Listed customers' email, phone and address keys, derived from the fields above and kept by
# ``services.duplicate_keys``: which key a customer holds, and the key itself. An erased
# customer holds none, and a key no one holds any more is deleted.
DUPLICATE_KEY_PERSONAL_FIELDS = ("group",)
DUPLICATE_KEY_NOT_PERSONAL_FIELDS = ("id", "customer")
DUPLICATE_KEY_GROUP_PERSONAL_FIELDS = ("key",)
DUPLICATE_KEY_GROUP_NOT_PERSONAL_FIELDS = ("id", "kind", "size")

CLASSIFICATION: dict[type[models.Model], tuple[tuple[str, ...], tuple[str, ...]]] = {
    Customer: (CUSTOMER_PERSONAL_FIELDS, CUSTOMER_NOT_PERSONAL_FIELDS),
    Address: ((*ADDRESS_PERSONAL_FIELDS, *ADDRESS_DERIVED_FIELDS), ADDRESS_NOT_PERSONAL_FIELDS),
    Note: (NOTE_PERSONAL_FIELDS, NOTE_NOT_PERSONAL_FIELDS),
    Order: (ORDER_PERSONAL_FIELDS, ORDER_NOT_PERSONAL_FIELDS),
    CustomerEvent: (EVENT_PERSONAL_FIELDS, EVENT_NOT_PERSONAL_FIELDS),
    CustomerMerge: (MERGE_PERSONAL_FIELDS, MERGE_NOT_PERSONAL_FIELDS),
    TaggedCustomer: (TAGGED_CUSTOMER_PERSONAL_FIELDS, TAGGED_CUSTOMER_NOT_PERSONAL_FIELDS),
    ChannelCustomerLink: (
        CHANNEL_CUSTOMER_LINK_PERSONAL_FIELDS,
        CHANNEL_CUSTOMER_LINK_NOT_PERSONAL_FIELDS,
    ),
    ChannelOrderLink: ((), CHANNEL_ORDER_LINK_NOT_PERSONAL_FIELDS),
    ChannelEvent: (CHANNEL_EVENT_PERSONAL_FIELDS, CHANNEL_EVENT_NOT_PERSONAL_FIELDS),
    ExportRecord: (EXPORT_RECORD_PERSONAL_FIELDS, EXPORT_RECORD_NOT_PERSONAL_FIELDS),
    Mailing: (MAILING_PERSONAL_FIELDS, MAILING_NOT_PERSONAL_FIELDS),
    Segment: (SEGMENT_PERSONAL_FIELDS, SEGMENT_NOT_PERSONAL_FIELDS),
    DuplicateKey: (DUPLICATE_KEY_PERSONAL_FIELDS, DUPLICATE_KEY_NOT_PERSONAL_FIELDS),
    DuplicateKeyGroup: (
        DUPLICATE_KEY_GROUP_PERSONAL_FIELDS,
        DUPLICATE_KEY_GROUP_NOT_PERSONAL_FIELDS,
    ),
}

# Models of the customers app that hold no personal data: the store's tag set, and which tags an
# order carries (copied from the customer's tags when the order came in; the order is the shop's).
# A saved import column mapping holds column names and the staff user who saved it. A sales
# channel's connection holds the store's own settings and secrets.
MODELS_WITHOUT_PERSONAL_DATA: tuple[type[models.Model], ...] = (
    Tag,
    TaggedOrder,
    ImportMapping,
    ChannelConnection,
)

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


# --- redaction ----------------------------------------------------------------------------

# What a redacted value reads as, in event payloads and merge snapshots.
REDACTED_TEXT = "[redacted]"


def event_data_scrub(value):
    """Replace every personal value of an event payload, keeping its shape, ids and our codes.

    Any text may be a name, an address or a note, so every string that is not one of our codes
    goes; numbers (ids, counts) and yes/no values stay.
    """
    if isinstance(value, dict):
        return {key: event_data_scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [event_data_scrub(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and value in SAFE_PAYLOAD_STRINGS:
        return value
    return REDACTED_TEXT


# The contact details that name a person in the import working files (uploads and reports):
# names alone are too common to recognise a person by, these are not.
CUSTOMER_CONTACT_FIELDS = ("email", "phone")
ADDRESS_CONTACT_FIELDS = ("phone",)
