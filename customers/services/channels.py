"""Sales channels: one set of rules for what a Shopify store or a point of sale sends.

The Shopify webhooks and the POS API are two adapters that turn what they receive into a
``ChannelCustomer`` or ``ChannelOrder`` and call ``channel_customer_sync`` /
``channel_order_sync``. The rules (Mortar's and ShipStation's):

- the channel's own customer id is matched first, then the store's matching setting;
- a linked customer that was archived or deleted loses the link and is matched again (oldest
  live record first) or created; a merged one resolves to its survivor;
- an update changes names (unless the connection keeps names), date of birth, phone, default
  address, email and marketing consent when they differ; tags are added, never removed;
- an update older than the last one applied (the channel's ``updated_at``) changes nothing;
- an order copies the customer's tags; its address never changes the customer's.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.audit.events import (
    channel_customer_created_event,
    channel_customer_unlinked_event,
    channel_customer_updated_event,
    consent_changed_event,
)
from customers.db.locks import customers_lock
from customers.models import (
    Address,
    Channel,
    ChannelConnection,
    ChannelCustomerLink,
    ChannelEvent,
    ChannelOrderLink,
    ConsentSource,
    Customer,
    Order,
    Status,
    TaggedCustomer,
)
from customers.personal_data import ADDRESS_PERSONAL_FIELDS
from customers.selectors.matching import (
    customer_match_key,
    customers_survivors,
    matching_strategy,
)
from customers.selectors.search import HAS_PHONE
from customers.services.consent import consent_apply
from customers.services.duplicate_keys import duplicate_keys_refresh
from customers.services.order_summary import order_summaries_refresh
from customers.services.orders import orders_record
from customers.services.tagging import tags_resolve

ARCHIVED_HOLDS_EMAIL = _(
    "Customer #%(customer)s is archived and holds the email %(email)s: unarchive or merge it, "
    "then retry this event."
)
EMAIL_OR_PHONE_MISSING = _("The channel sent a customer without an email or a phone number.")
EMAIL_USED_BY_OTHER = _("The email %(email)s belongs to another customer (#%(customer)s).")
SERVICE_USER_PREFIX = "channel:"
CUSTOMER_FIELDS = ("first_name", "last_name", "email", "phone", "date_of_birth")
NAME_FIELDS = ("first_name", "last_name")


@dataclass
class ChannelConsent:
    state: str  # one of customers.models.Consent
    updated_at: datetime.datetime | None = None


@dataclass
class ChannelCustomer:
    """A customer as a channel describes it; ``None`` means "the channel did not say"."""

    external_id: str
    email: str = ""  # lower-cased
    phone: str = ""  # E.164
    first_name: str | None = None
    last_name: str | None = None
    date_of_birth: datetime.date | None = None
    address: dict | None = None  # ADDRESS_PERSONAL_FIELDS
    email_consent: ChannelConsent | None = None
    sms_consent: ChannelConsent | None = None
    tags: list[str] = field(default_factory=list)
    updated_at: datetime.datetime | None = None


@dataclass
class ChannelOrder:
    external_id: str
    number: str
    placed_at: datetime.datetime
    total: Decimal
    currency: str
    shipping_address: dict = field(default_factory=dict)
    customer: ChannelCustomer | None = None
    updated_at: datetime.datetime | None = None


@dataclass
class SyncResult:
    customer: Customer | None = None
    order: Order | None = None
    created: bool = False
    changed: bool = False
    stale: bool = False


# --- connections --------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def channel_service_user(*, connection: ChannelConnection):
    """Return the user a connection's changes are recorded under, creating it once.

    A dedicated user per connection, not a label: the history shows which store or till made a
    change, the actor is a real row like a staff user's, and it cannot sign in (no password,
    not staff).
    """
    if connection.service_user_id is not None:
        return connection.service_user
    user_model = get_user_model()
    username = f"{SERVICE_USER_PREFIX}{connection.pk}:{connection.name}"[:150]
    user, created = user_model.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    ChannelConnection.objects.filter(pk=connection.pk).update(service_user=user)
    connection.service_user = user
    return user


@transaction.atomic
def channel_connection_issue_token(*, actor, connection_id: int) -> str:
    """Give a POS connection a new bearer token; return it (only its hash is kept).

    The old token stops working at once.
    """
    connection = ChannelConnection.objects.select_for_update().get(pk=connection_id)
    token = secrets.token_urlsafe(32)
    connection.token_hash = token_hash(token)
    connection.save(update_fields=["token_hash"])
    return token


def pos_connection_for_token(token: str) -> ChannelConnection | None:
    """The active POS connection a bearer token belongs to, or None."""
    if not token:
        return None
    return ChannelConnection.objects.filter(
        channel=Channel.POS, active=True, token_hash=token_hash(token)
    ).first()


# --- finding the customer -----------------------------------------------------------------


def _connection_tags(connection: ChannelConnection) -> list[str]:
    return [name.strip() for name in connection.tags.split(",") if name.strip()]


def _live_match(data: ChannelCustomer) -> Customer | None:
    """The oldest live customer the record's key designates, following merges.

    Archived and redacted customers are not matched: a channel never revives them. If the
    email is held by an archived customer, no new customer can take it: the event fails with
    the reason, for staff to decide.
    """
    key = customer_match_key(email=data.email, phone=data.phone, strategy=matching_strategy())
    if key is None:
        raise ValidationError(EMAIL_OR_PHONE_MISSING, code="email_or_phone_missing")
    kind, value = key
    condition = Q(**{kind: value})
    if kind == "phone":
        condition &= HAS_PHONE  # SQLite reads the partial phone index only when it is said
    holders = list(
        Customer.objects.filter(condition)
        .exclude(status=Status.REDACTED)
        .order_by("pk")
        .only("pk", "status", "merged_into")
    )
    survivors = customers_survivors(ids=[c.pk for c in holders if c.status == Status.MERGED])
    for holder in holders:
        if holder.status == Status.ACTIVE:
            return holder
        if holder.status == Status.MERGED and holder.pk in survivors:
            survivor = survivors[holder.pk]
            if survivor.status == Status.ACTIVE:
                return survivor
    archived = next((c for c in holders if c.status == Status.ARCHIVED), None)
    if archived is not None and kind == "email":
        raise ValidationError(
            ARCHIVED_HOLDS_EMAIL,
            code="archived_holds_email",
            params={"customer": archived.pk, "email": value},
        )
    if data.email and kind != "email":
        taken = Customer.objects.filter(email=data.email).exclude(
            status__in=[Status.MERGED, Status.REDACTED]
        )
        if holder := taken.order_by("pk").first():
            raise ValidationError(
                EMAIL_USED_BY_OTHER,
                code="email_used",
                params={"email": data.email, "customer": holder.pk},
            )
    return None


def _linked_customer(link: ChannelCustomerLink | None) -> Customer | None:
    """The live customer a link points at (a merged one's survivor), or None to match again."""
    if link is None:
        return None
    customer = Customer.objects.filter(pk=link.customer_ref).first()
    if customer is not None and customer.status == Status.MERGED:
        customer = customers_survivors(ids=[customer.pk]).get(customer.pk)
    if customer is None or customer.status != Status.ACTIVE:
        return None
    return customer


def _create_customer(*, actor, connection: ChannelConnection, data: ChannelCustomer) -> Customer:
    customer = Customer(
        source=connection.channel,
        email=data.email,
        phone=data.phone,
        first_name=data.first_name or "",
        last_name=data.last_name or "",
        date_of_birth=data.date_of_birth,
    )
    consents = _apply_consents(customer, data)
    customer.save()
    tags = _add_tags(customer, [*data.tags, *_connection_tags(connection)], new=True)
    address = _apply_address(customer, data.address, new=True)
    channel_customer_created_event(
        actor=actor, customer=customer, connection=connection.name, tags=tags, address=address
    )
    _consent_events(actor, customer, consents)
    return customer


# --- applying what the channel says ---------------------------------------------------------


def _apply_consents(customer: Customer, data: ChannelCustomer) -> list[tuple[str, str, str]]:
    """Set the consent states the channel sent, with its times; return (channel, old, new)."""
    changes = []
    for channel, consent in (("email", data.email_consent), ("sms", data.sms_consent)):
        if consent is None:
            continue
        change = consent_apply(
            customer=customer,
            channel=channel,
            state=consent.state,
            source=ConsentSource.CHANNEL,
            when=consent.updated_at,
        )
        if change is not None:
            changes.append((channel, *change))
    return changes


def _consent_events(actor, customer: Customer, changes: list[tuple[str, str, str]]) -> None:
    for channel, old, new in changes:
        consent_changed_event(
            actor=actor,
            customer=customer,
            channel=channel,
            old=old,
            new=new,
            source=ConsentSource.CHANNEL,
        )


def _add_tags(customer: Customer, names: list[str], *, new: bool = False) -> list[str]:
    """Add tags the customer lacks (never remove one); return the names added.

    ``new``: the customer was just created and has none (no need to read them).
    """
    if not names:
        return []
    tags, _missing = tags_resolve(names=names, create=True)
    have = (
        set()
        if new
        else set(
            TaggedCustomer.objects.filter(content_object=customer).values_list("tag_id", flat=True)
        )
    )
    new = [tag for tag in tags if tag.pk not in have]
    TaggedCustomer.objects.bulk_create(
        [TaggedCustomer(content_object=customer, tag=tag) for tag in new], ignore_conflicts=True
    )
    return [tag.name for tag in new]


def _apply_address(customer: Customer, values: dict | None, *, new: bool = False) -> dict:
    """Make ``values`` the customer's default address if it differs; return the audit data.

    ``new``: the customer was just created and has no address yet.
    """
    if not values:
        return {}
    address = None if new else Address.objects.filter(customer=customer, is_default=True).first()
    if address is None:
        address = Address(customer=customer, is_default=True)
    before = {name: getattr(address, name) for name in ADDRESS_PERSONAL_FIELDS}
    for name in ADDRESS_PERSONAL_FIELDS:
        setattr(address, name, values.get(name) or "")
    address.clean()
    after = {name: getattr(address, name) for name in ADDRESS_PERSONAL_FIELDS}
    if address.pk is not None and before == after:
        return {}
    address.save()
    return {"default_address": str(address)}


def _update_customer(
    *, actor, connection: ChannelConnection, customer_id: int, data: ChannelCustomer
) -> tuple[Customer, bool]:
    """Apply a channel's update to a live customer; return it and whether anything changed."""
    customers_lock(ids=[customer_id])
    customer = Customer.objects.get(pk=customer_id)
    if data.email and data.email != customer.email:
        clash = (
            Customer.objects.filter(email=data.email)
            .exclude(pk=customer.pk)
            .exclude(status__in=[Status.MERGED, Status.REDACTED])
            .first()
        )
        if clash is not None:
            raise ValidationError(
                EMAIL_USED_BY_OTHER,
                code="email_used",
                params={"email": data.email, "customer": clash.pk},
            )
    changes = {}
    for name in CUSTOMER_FIELDS:
        new = getattr(data, name)
        if name in NAME_FIELDS and connection.keep_names:
            continue
        if new in (None, ""):
            continue  # the channel did not say: leave it
        old = getattr(customer, name)
        if new != old:
            changes[name] = [_plain(old), _plain(new)]
            setattr(customer, name, new)
    consents = _apply_consents(customer, data)
    tags = _add_tags(customer, data.tags)
    address = _apply_address(customer, data.address)
    changed = bool(changes or consents or tags or address)
    if changed:
        customer.version += 1
        customer.save()
    if changes or tags or address:
        channel_customer_updated_event(
            actor=actor,
            customer=customer,
            connection=connection.name,
            changes=changes,
            tags_added=tags,
            address=address,
        )
    _consent_events(actor, customer, consents)
    return customer, changed


def _plain(value):
    return value.isoformat() if isinstance(value, datetime.date) else value


def _is_stale(stored: datetime.datetime | None, incoming: datetime.datetime | None) -> bool:
    return stored is not None and incoming is not None and incoming < stored


def _lock_link(model, connection: ChannelConnection, external_id: str):
    return (
        model.objects.select_for_update(of=("self",))
        .filter(connection=connection, external_id=external_id)
        .first()
    )


def _customer_resolve(
    *, actor, connection: ChannelConnection, data: ChannelCustomer, update: bool
) -> SyncResult:
    """Find (or create) the customer ``data`` means and keep its link; update it if asked."""
    link = (
        _lock_link(ChannelCustomerLink, connection, data.external_id) if data.external_id else None
    )
    if update and link is not None and _is_stale(link.remote_updated_at, data.updated_at):
        return SyncResult(
            customer=Customer.objects.filter(pk=link.customer_ref).first(), stale=True
        )
    customer = _linked_customer(link) or _live_match(data)
    result = SyncResult()
    if customer is None:
        customer = _create_customer(actor=actor, connection=connection, data=data)
        result.created = result.changed = True
    elif update:
        customer, result.changed = _update_customer(
            actor=actor, connection=connection, customer_id=customer.pk, data=data
        )
    result.customer = customer
    if result.changed:
        duplicate_keys_refresh(customer_ids=[customer.pk])
    if not data.external_id:
        return result
    if link is None:
        link = ChannelCustomerLink(connection=connection, external_id=data.external_id)
    link.customer_ref = customer.pk
    if update or link.pk is None:
        link.remote_updated_at = max(
            filter(None, (link.remote_updated_at, data.updated_at)), default=None
        )
    link.save()
    return result


@transaction.atomic
def channel_customer_sync(
    *, actor, connection: ChannelConnection, data: ChannelCustomer
) -> SyncResult:
    """Create or update the customer a channel sent, by the rules in this module's docstring."""
    return _customer_resolve(actor=actor, connection=connection, data=data, update=True)


@transaction.atomic
def channel_order_sync(*, actor, connection: ChannelConnection, data: ChannelOrder) -> SyncResult:
    """Record (or update) an order a channel sent, for the customer it designates.

    The customer is found or created by the customer rules, but the order never changes the
    customer: not its details, not its addresses. The order gets the customer's tags.
    """
    link = _lock_link(ChannelOrderLink, connection, data.external_id)
    if link is not None:
        if _is_stale(link.remote_updated_at, data.updated_at):
            return SyncResult(order=link.order, customer=link.order.customer, stale=True)
        order = link.order
        changed = False
        for name in ("total", "currency", "shipping_address", "placed_at"):
            if getattr(order, name) != getattr(data, name):
                setattr(order, name, getattr(data, name))
                changed = True
        if changed:
            order.save()
            if order.customer_id:
                order_summaries_refresh(customer_ids=[order.customer_id])
        link.remote_updated_at = data.updated_at or link.remote_updated_at
        link.save(update_fields=["remote_updated_at"])
        return SyncResult(order=order, customer=order.customer, changed=changed)
    customer = None
    if data.customer is not None and (data.customer.email or data.customer.phone):
        customer = _customer_resolve(
            actor=actor, connection=connection, data=data.customer, update=False
        ).customer
    order = Order.objects.filter(source=connection.channel, number=data.number).first()
    if order is None:
        order = Order(
            number=data.number,
            customer=customer,
            placed_at=data.placed_at,
            total=data.total,
            currency=data.currency,
            source=connection.channel,
            shipping_address=data.shipping_address,
        )
        # Writes its ORDER_RECORDED event and copies the customer's tags onto the order.
        orders_record(actor=actor, orders=[order])
        order.refresh_from_db()
    ChannelOrderLink.objects.create(
        connection=connection,
        external_id=data.external_id,
        order=order,
        remote_updated_at=data.updated_at,
    )
    return SyncResult(order=order, customer=order.customer, created=True, changed=True)


@transaction.atomic
def channel_customer_unlink(
    *, actor, connection: ChannelConnection, external_id: str
) -> Customer | None:
    """Forget a channel's customer id (the channel deleted its customer); keep our record.

    The customer and its order history stay: deleting here would lose orders and bypass the
    guarded delete. The history records that the channel deleted it.
    """
    link = _lock_link(ChannelCustomerLink, connection, external_id)
    if link is None:
        return None
    customer = Customer.objects.filter(pk=link.customer_ref).first()
    link.delete()
    if customer is None:
        return None
    channel_customer_unlinked_event(
        actor=actor, customer=customer, connection=connection.name, external_id=external_id
    )
    return customer


def channel_customers_for(*, connection: ChannelConnection, ids=(), emails=(), everyone=False):
    """Customers a connection's privacy request designates: by its ids, then by email.

    ``everyone``: all the customers the connection ever linked (shop/redact).
    """
    links = ChannelCustomerLink.objects.filter(connection=connection)
    if not everyone:
        links = links.filter(external_id__in=[i for i in ids if i])
    condition = Q(pk__in=links.values("customer_ref"))
    if emails and not everyone:
        condition |= Q(email__in=list(emails))
    return Customer.objects.filter(condition).exclude(status=Status.REDACTED)


# --- erasure ----------------------------------------------------------------------------------

REDACTED_BODY = "{}"


def channel_data_erase(*, actor, customer_ids: list[int]) -> int:
    """Erase what the channels keep about these customers: raw deliveries and channel ids.

    Called by the erasure service inside its transaction, beside its own redaction (its REDACTED
    event, written by ``actor``, records the erasure). The inbox rows stay with their topic,
    headers and state, so the channel events page still accounts for every delivery; their body
    and failure reason (personal, see ``personal_data``) are emptied. Two statements whatever
    the count; returns the events emptied.
    """
    ChannelCustomerLink.objects.filter(customer_ref__in=customer_ids).delete()
    return ChannelEvent.objects.filter(customer_ref__in=customer_ids).update(
        body=REDACTED_BODY, error=""
    )
