"""Merging duplicate customers into one survivor, and undoing a merge exactly.

A merge moves the absorbed records' orders, notes, addresses (an address identical to one the
survivor already has is folded: it stays on the absorbed record) and tag links to the survivor;
the absorbed records become ``merged`` (``merged_into`` the survivor) and keep their own field
values. A ``CustomerMerge`` row remembers what moved, so an undo puts back exactly that and
leaves alone what was added to the survivor afterwards.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from customers.address_keys import squeeze
from customers.audit.events import (
    Actor,
    actor_fields,
    customer_merged_events,
    customer_unmerged_events,
)
from customers.db.locks import customers_lock, locked
from customers.models import (
    Address,
    Consent,
    ConsentSource,
    Customer,
    CustomerMerge,
    Note,
    Order,
    Status,
    TaggedCustomer,
)
from customers.personal_data import (
    ADDRESS_PERSONAL_FIELDS,
    CUSTOMER_CONSENT_FIELDS,
    CUSTOMER_IDENTITY_FIELDS,
)
from customers.services.consent import CHANNELS, consent_apply
from customers.services.duplicate_keys import duplicate_keys_refresh
from customers.services.order_summary import order_summaries_refresh

MERGE_NEEDS_TWO = _("Select at least two customers to merge.")
MERGE_NOT_FOUND = _("A selected customer no longer exists. Reload the list and select again.")
MERGE_STALE = _(
    "%(customer)s was changed or merged by someone else since this page was shown. "
    "Nothing was merged: reload the page and check again."
)
MERGE_ALREADY_MERGED = _("%(customer)s is already merged into another customer.")
MERGE_REDACTED = _("%(customer)s has had their personal data erased and cannot be merged.")
MERGE_ERASURE_PENDING = _(
    "%(customer)s has a pending erasure request and cannot be merged until it is handled."
)
# Staff check the records side by side: beyond this many that is unreadable (and slow to build),
# and such a group is rarely one person (a warehouse, a parcel forwarder).
MERGE_MAX = 100
MERGE_TOO_MANY = _(
    "%(count)s customers are selected: merge at most %(max)s at a time, so that each record "
    "can be checked side by side."
)
MERGE_BAD_CHOICE = _("The value of %(field)s must come from one of the selected customers.")

UNMERGE_ALREADY_UNDONE = _("This merge was already undone.")
UNMERGE_ERASED = _(
    "%(customer)s has had their personal data erased: a merge that involves them cannot be undone."
)
UNMERGE_SURVIVOR_MERGED = _(
    "%(customer)s has since been merged into another customer: undo that merge first."
)
UNMERGE_LATER_MERGE = _(
    "%(customer)s absorbed other customers after this merge: undo the later merges first."
)
UNMERGE_ABSORBED_CHANGED = _(
    "%(customer)s is no longer merged into this customer, so the merge cannot be undone."
)
UNMERGE_ABSORBED_GONE = _(
    "The merged customer #%(id)s has since been deleted, so the merge cannot be undone."
)
UNMERGE_EMAIL_TAKEN = _(
    "%(customer)s cannot be restored: their email %(email)s is now used by %(other)s."
)
UNMERGE_CONFLICT = _(
    "The merge could not be undone: another customer now uses one of these email addresses. "
    "Nothing was changed."
)
UNMERGE_STALE = _(
    "The customers changed since this page was shown. Nothing was undone: reload the page."
)

# The fields staff choose value by value; every other field follows a rule (see customers_merge).
MERGE_FIELDS = (*CUSTOMER_IDENTITY_FIELDS, "tax_exempt")
# What a merge may change on the survivor, hence what an undo may restore.
SNAPSHOT_FIELDS = (*MERGE_FIELDS, "group_id", "has_active_subscription", *CUSTOMER_CONSENT_FIELDS)
DATE_FIELDS = {"date_of_birth"}
DATETIME_FIELDS = {"email_consent_updated_at", "sms_consent_updated_at"}
# Most restrictive first: a merge never upgrades consent.
CONSENT_RANK = {Consent.UNSUBSCRIBED: 0, Consent.NOT_SUBSCRIBED: 1, Consent.SUBSCRIBED: 2}


def _to_json(value):
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()  # full precision, unlike DjangoJSONEncoder
    return value


def _from_json(name: str, value):
    if value is None:
        return None
    if name in DATETIME_FIELDS:
        return parse_datetime(value)
    if name in DATE_FIELDS:
        return parse_date(value)
    return value


def _snapshot(customer: Customer) -> dict:
    return {name: _to_json(getattr(customer, name)) for name in SNAPSHOT_FIELDS}


def _is_empty(value) -> bool:
    return value is None or value == ""


def merge_default_survivor(customers: Sequence[Customer]) -> Customer:
    """Pick the customer to keep: the most orders (its order summary), then the oldest."""
    return min(customers, key=lambda c: (-c.order_count, c.created_at, c.pk))


def merge_default_choices(survivor: Customer, absorbed: Sequence[Customer]) -> dict[str, int]:
    """Default value source per field: the survivor's value, else the first non-empty one.

    A yes/no field (tax exemption) keeps the survivor's value: "no" is a value, not a blank.
    """
    choices = {}
    for name in MERGE_FIELDS:
        source = survivor
        if name != "tax_exempt" and _is_empty(getattr(survivor, name)):
            source = next((c for c in absorbed if not _is_empty(getattr(c, name))), survivor)
        choices[name] = source.pk
    return choices


@dataclass
class MergePlan:
    """What a merge will do; the preview shows it and the service carries it out."""

    survivor: Customer
    absorbed: list[Customer]
    values: dict[str, object]
    group_id: int | None
    consent: dict[str, str]
    has_active_subscription: bool
    orders: dict[int, list[int]] = field(default_factory=dict)
    notes: dict[int, list[int]] = field(default_factory=dict)
    addresses: dict[int, list[int]] = field(default_factory=dict)
    addresses_folded: dict[int, dict[int, int]] = field(default_factory=dict)
    defaults_cleared: dict[int, list[int]] = field(default_factory=dict)
    defaults: dict[int, list[int]] = field(default_factory=dict)
    tag_links: dict[int, list[int]] = field(default_factory=dict)
    tags_folded: dict[int, list[int]] = field(default_factory=dict)
    tag_names_added: list[str] = field(default_factory=list)
    tag_names: dict[int, list[str]] = field(default_factory=dict)

    def tag_names_for(self, pk: int) -> list[str]:
        return self.tag_names.get(pk, [])

    def count(self, what: str) -> int:
        return sum(len(items) for items in getattr(self, what).values())

    @property
    def changed_fields(self) -> dict[str, list]:
        """Survivor fields the merge changes: name -> [old, new]."""
        changes = {}
        for name, value in self.values.items():
            if getattr(self.survivor, name) != value:
                changes[name] = [_to_json(getattr(self.survivor, name)), _to_json(value)]
        if self.survivor.group_id != self.group_id:
            changes["group"] = [self.survivor.group_id, self.group_id]
        if self.survivor.has_active_subscription != self.has_active_subscription:
            changes["has_active_subscription"] = [
                self.survivor.has_active_subscription,
                self.has_active_subscription,
            ]
        for channel in CHANNELS:
            old = getattr(self.survivor, f"{channel}_consent")
            if old != self.consent[channel]:
                changes[f"{channel}_consent"] = [old, self.consent[channel]]
        return changes

    def moved_for(self, pk: int) -> dict:
        return {
            "orders": self.orders.get(pk, []),
            "notes": self.notes.get(pk, []),
            "addresses": self.addresses.get(pk, []),
            "addresses_folded": {str(k): v for k, v in self.addresses_folded.get(pk, {}).items()},
            "defaults_cleared": self.defaults_cleared.get(pk, []),
            "defaults": self.defaults.get(pk, []),
            "tag_links": self.tag_links.get(pk, []),
            "tags_folded": self.tags_folded.get(pk, []),
        }

    def summary_for(self, pk: int) -> dict:
        moved = self.moved_for(pk)
        return {
            key: len(moved[key])
            for key in ("orders", "notes", "addresses", "addresses_folded", "tag_links")
        }


def merge_plan(
    *, survivor: Customer, absorbed: Sequence[Customer], field_choices: dict[str, int] | None
) -> MergePlan:
    """Work out what merging ``absorbed`` into ``survivor`` does (reads only; a few queries)."""
    by_id = {c.pk: c for c in (survivor, *absorbed)}
    choices = merge_default_choices(survivor, absorbed)
    for name, source_id in (field_choices or {}).items():
        if name not in MERGE_FIELDS:
            continue
        if source_id not in by_id:
            raise ValidationError(
                MERGE_BAD_CHOICE,
                code="merge_bad_choice",
                params={"field": Customer._meta.get_field(name).verbose_name},
            )
        choices[name] = source_id
    values = {name: getattr(by_id[source], name) for name, source in choices.items()}
    group_id = survivor.group_id or next((c.group_id for c in absorbed if c.group_id), None)
    consent = {
        channel: min(
            (getattr(c, f"{channel}_consent") for c in by_id.values()),
            key=lambda state: CONSENT_RANK.get(state, 0),
        )
        for channel in CHANNELS
    }
    plan = MergePlan(
        survivor=survivor,
        absorbed=list(absorbed),
        values=values,
        group_id=group_id,
        consent=consent,
        has_active_subscription=any(c.has_active_subscription for c in by_id.values()),
    )
    absorbed_ids = [c.pk for c in absorbed]
    for model, target in ((Order, plan.orders), (Note, plan.notes)):
        for pk, owner in (
            model.objects.filter(customer_id__in=absorbed_ids)
            .order_by("pk")
            .values_list("pk", "customer_id")
        ):
            target.setdefault(owner, []).append(pk)
    _plan_addresses(plan)
    _plan_tags(plan)
    return plan


def _plan_addresses(plan: MergePlan) -> None:
    """Move each absorbed address unless an identical one is (or will be) on the survivor.

    Identical: the duplicate finder's key (country, postal code, street lines) and the same
    city, province, company and phone, all compared ignoring case, spacing and punctuation.
    """
    order = {c.pk: index for index, c in enumerate([plan.survivor, *plan.absorbed])}
    rows = sorted(
        Address.objects.filter(customer_id__in=order).values(
            "pk",
            "customer_id",
            "is_default",
            *ADDRESS_PERSONAL_FIELDS,
            "match_key",
        ),
        key=lambda row: (order[row["customer_id"]], row["pk"]),
    )
    kept: dict[str, int] = {}
    has_default = False
    for row in rows:
        key = "|".join(
            (
                row["match_key"],
                squeeze(row["city"]),
                squeeze(row["province_code"]),
                squeeze(row["company"]),
                row["phone"],
            )
        )
        owner = row["customer_id"]
        if owner == plan.survivor.pk:
            kept.setdefault(key, row["pk"])
            has_default = has_default or row["is_default"]
            continue
        if key in kept and row["address1"].strip():
            plan.addresses_folded.setdefault(owner, {})[row["pk"]] = kept[key]
            continue
        kept.setdefault(key, row["pk"])
        plan.addresses.setdefault(owner, []).append(row["pk"])
        if row["is_default"]:
            plan.defaults.setdefault(owner, []).append(row["pk"])
            if has_default:
                plan.defaults_cleared.setdefault(owner, []).append(row["pk"])
            has_default = True


def _plan_tags(plan: MergePlan) -> None:
    """Move each absorbed tag link whose tag the survivor lacks; the others are dropped."""
    order = {c.pk: index for index, c in enumerate([plan.survivor, *plan.absorbed])}
    links = sorted(
        TaggedCustomer.objects.filter(content_object_id__in=order).values_list(
            "pk", "content_object_id", "tag_id", "tag__name"
        ),
        key=lambda link: (order[link[1]], link[0]),
    )
    have: set[int] = set()
    for pk, owner, tag_id, name in links:
        if owner == plan.survivor.pk:
            have.add(tag_id)
        elif tag_id in have:
            plan.tags_folded.setdefault(owner, []).append(tag_id)
        else:
            have.add(tag_id)
            plan.tag_links.setdefault(owner, []).append(pk)
            plan.tag_names_added.append(name)
            plan.tag_names.setdefault(owner, []).append(name)


def _refusal(
    customer: Customer, expected_versions: dict[int, int] | None
) -> ValidationError | None:
    params = {"customer": str(customer)}
    if expected_versions is not None and expected_versions.get(customer.pk) != customer.version:
        return ValidationError(MERGE_STALE, code="merge_stale", params=params)
    if customer.status == Status.MERGED:
        return ValidationError(MERGE_ALREADY_MERGED, code="merge_already_merged", params=params)
    if customer.status == Status.REDACTED:
        return ValidationError(MERGE_REDACTED, code="merge_redacted", params=params)
    if customer.erasure_is_pending:
        return ValidationError(MERGE_ERASURE_PENDING, code="merge_erasure_pending", params=params)
    return None


def merge_refusals(
    customers: Iterable[Customer], expected_versions: dict[int, int] | None = None
) -> list[ValidationError]:
    """Return why these customers cannot be merged (empty when they can)."""
    return [error for c in customers if (error := _refusal(c, expected_versions)) is not None]


@dataclass
class MergeResult:
    merge: CustomerMerge
    survivor: Customer
    absorbed_count: int
    orders: int
    notes: int
    addresses: int
    addresses_folded: int
    tags_added: list[str]


def _merge_move(*, plan: MergePlan, absorbed_ids: list[int], now: datetime.datetime) -> None:
    """Mark the absorbed records merged and move their orders, notes, addresses and tag links."""
    survivor_id = plan.survivor.pk
    # The absorbed records leave the email constraint first, so the survivor may take an email.
    Customer.objects.filter(pk__in=absorbed_ids).update(
        status=Status.MERGED, merged_into_id=survivor_id, version=F("version") + 1, updated_at=now
    )
    Order.objects.filter(customer_id__in=absorbed_ids).update(customer_id=survivor_id)
    order_summaries_refresh(customer_ids=[survivor_id, *absorbed_ids])
    Note.objects.filter(customer_id__in=absorbed_ids).update(customer_id=survivor_id)
    cleared = [pk for pks in plan.defaults_cleared.values() for pk in pks]
    Address.objects.filter(pk__in=cleared).update(is_default=False)
    moved_addresses = [pk for pks in plan.addresses.values() for pk in pks]
    Address.objects.filter(pk__in=moved_addresses).update(customer_id=survivor_id)
    moved_links = [pk for pks in plan.tag_links.values() for pk in pks]
    TaggedCustomer.objects.filter(pk__in=moved_links).update(content_object_id=survivor_id)
    TaggedCustomer.objects.filter(content_object_id__in=absorbed_ids).delete()


def _merge_survivor_update(*, survivor: Customer, plan: MergePlan, now: datetime.datetime) -> dict:
    """Write the chosen values and the merged consent on the survivor; return its new snapshot."""
    for name, value in plan.values.items():
        setattr(survivor, name, value)
    survivor.group_id = plan.group_id
    survivor.has_active_subscription = plan.has_active_subscription
    for channel in CHANNELS:
        if getattr(survivor, f"{channel}_consent") != plan.consent[channel]:
            consent_apply(
                customer=survivor,
                channel=channel,
                state=plan.consent[channel],
                source=ConsentSource.MERGE,
                when=now,
            )
    after = _snapshot(survivor)
    Customer.objects.filter(pk=survivor.pk).update(
        **{name: getattr(survivor, name) for name in SNAPSHOT_FIELDS},
        version=F("version") + 1,
        updated_at=now,
    )
    survivor.refresh_from_db()
    return after


@transaction.atomic
def customers_merge(
    *,
    actor: Actor,
    survivor_id: int,
    absorbed_ids: Sequence[int],
    field_choices: dict[str, int] | None = None,
    expected_versions: dict[int, int] | None = None,
) -> MergeResult:
    """Merge the absorbed customers into the survivor in one transaction, rows locked.

    ``field_choices`` maps a field of ``MERGE_FIELDS`` to the id of the customer whose value to
    keep (default: the survivor's, or the first non-empty). ``expected_versions`` (id ->
    version shown to staff) refuses the merge if any record changed since. Costs a fixed
    number of queries whatever the number of orders, notes, addresses and tags.
    """
    absorbed_ids = [pk for pk in dict.fromkeys(absorbed_ids) if pk != survivor_id]
    if not absorbed_ids:
        raise ValidationError(MERGE_NEEDS_TWO, code="merge_needs_two")
    ids = [survivor_id, *absorbed_ids]
    if len(ids) > MERGE_MAX:
        raise ValidationError(
            MERGE_TOO_MANY, code="merge_too_many", params={"count": len(ids), "max": MERGE_MAX}
        )
    customers_lock(ids=ids)
    by_id = Customer.objects.in_bulk(ids)
    if len(by_id) != len(ids):
        raise ValidationError(MERGE_NOT_FOUND, code="merge_not_found")
    refusals = merge_refusals([by_id[pk] for pk in ids], expected_versions)
    if refusals:
        raise ValidationError(refusals)
    survivor = by_id[survivor_id]
    absorbed = [by_id[pk] for pk in absorbed_ids]
    plan = merge_plan(survivor=survivor, absorbed=absorbed, field_choices=field_choices)
    now = timezone.now()
    changes = plan.changed_fields
    before = _snapshot(survivor)

    _merge_move(plan=plan, absorbed_ids=absorbed_ids, now=now)
    after = _merge_survivor_update(survivor=survivor, plan=plan, now=now)
    duplicate_keys_refresh(customer_ids=ids)

    merge = CustomerMerge.objects.create(
        survivor=survivor,
        absorbed_ids=absorbed_ids,
        created_at=now,
        survivor_before=before,
        survivor_after=after,
        absorbed_before={str(c.pk): {"status": c.status} for c in absorbed},
        moved={str(pk): plan.moved_for(pk) for pk in absorbed_ids},
        **actor_fields(actor),
    )
    summaries = {pk: plan.summary_for(pk) for pk in absorbed_ids}
    customer_merged_events(
        actor=actor,
        merge_id=merge.pk,
        survivor_id=survivor.pk,
        summaries=summaries,
        tags_added=plan.tag_names_added,
        changes=changes,
    )
    return MergeResult(
        merge=merge,
        survivor=survivor,
        absorbed_count=len(absorbed_ids),
        orders=plan.count("orders"),
        notes=plan.count("notes"),
        addresses=plan.count("addresses"),
        addresses_folded=plan.count("addresses_folded"),
        tags_added=plan.tag_names_added,
    )


def merge_undo_blockers(merge: CustomerMerge) -> list[ValidationError]:
    """Return why a merge can no longer be undone cleanly (empty when it can)."""
    if merge.undone_at is not None:
        return [ValidationError(UNMERGE_ALREADY_UNDONE, code="unmerge_already_undone")]
    ids = [merge.survivor_id, *merge.absorbed_ids]
    by_id = Customer.objects.in_bulk(ids)
    survivor = by_id[merge.survivor_id]
    # Nothing may bring an erased person back: not the survivor, not a record merged into it.
    erased = [by_id[pk] for pk in ids if pk in by_id and by_id[pk].status == Status.REDACTED]
    if erased:
        return [
            ValidationError(
                UNMERGE_ERASED, code="unmerge_erased", params={"customer": f"#{customer.pk}"}
            )
            for customer in erased
        ]
    errors = []
    if survivor.status == Status.MERGED:
        errors.append(
            ValidationError(
                UNMERGE_SURVIVOR_MERGED,
                code="unmerge_survivor_merged",
                params={"customer": str(survivor)},
            )
        )
    later = CustomerMerge.objects.filter(
        survivor_id=merge.survivor_id, undone_at__isnull=True, pk__gt=merge.pk
    )
    if later.exists():
        errors.append(
            ValidationError(
                UNMERGE_LATER_MERGE, code="unmerge_later_merge", params={"customer": str(survivor)}
            )
        )
    absorbed = [by_id[pk] for pk in merge.absorbed_ids if pk in by_id]
    for pk in merge.absorbed_ids:
        if pk not in by_id:
            errors.append(
                ValidationError(
                    UNMERGE_ABSORBED_GONE, code="unmerge_absorbed_gone", params={"id": pk}
                )
            )
    for customer in absorbed:
        if customer.status != Status.MERGED or customer.merged_into_id != merge.survivor_id:
            errors.append(
                ValidationError(
                    UNMERGE_ABSORBED_CHANGED,
                    code="unmerge_absorbed_changed",
                    params={"customer": str(customer)},
                )
            )
    if errors:
        return errors
    survivor_email = _restored_values(merge, survivor).get("email", survivor.email) or ""
    # Every email that will be live again after the undo, with the record that will hold it.
    restoring = {c.email.lower(): c for c in absorbed if c.email}
    if survivor_email and survivor_email != survivor.email:
        restoring.setdefault(survivor_email.lower(), survivor)
    if restoring:
        taken = (
            Customer.objects.not_merged()
            .exclude(pk__in=ids)
            .filter(email__in=list(restoring))
            .only("pk", "email", "first_name", "last_name", "phone")
        )
        holders = {other.email.lower(): other for other in taken}
        if survivor_email and restoring.get(survivor_email.lower(), survivor) != survivor:
            holders.setdefault(survivor_email.lower(), survivor)
        for email, other in holders.items():
            errors.append(
                ValidationError(
                    UNMERGE_EMAIL_TAKEN,
                    code="unmerge_email_taken",
                    params={"customer": str(restoring[email]), "email": email, "other": str(other)},
                )
            )
    return errors


def _by_owner(field_name: str, ids_by_owner: dict[int, list[int]], values=None) -> Case:
    """A CASE giving each row (by ``field_name`` in a list) its owner, or ``values[owner]``."""
    return Case(
        *[
            When(**{f"{field_name}__in": ids}, then=Value((values or {}).get(owner, owner)))
            for owner, ids in ids_by_owner.items()
        ]
    )


def _restored_values(merge: CustomerMerge, survivor: Customer) -> dict[str, object]:
    """Survivor fields to put back: those the merge changed and nobody changed since."""
    restored = {}
    for name, before in merge.survivor_before.items():
        after = merge.survivor_after.get(name)
        if before == after:
            continue
        if _to_json(getattr(survivor, name)) == after:
            restored[name] = _from_json(name, before)
    return restored


@dataclass
class UnmergeResult:
    survivor: Customer
    restored: list[Customer]
    orders: int
    notes: int
    addresses: int
    tag_links: int


@transaction.atomic
def customer_unmerge(
    *, actor: Actor, merge_id: int, expected_version: int | None = None
) -> UnmergeResult:
    """Undo a merge: the absorbed records come back with their own values and belongings.

    What moved goes back (what was since deleted stays deleted); what was added to the survivor
    after the merge stays with it; survivor fields the merge changed are restored unless staff
    changed them since. Refused with reasons (``merge_undo_blockers``) when it cannot be done
    cleanly. ``expected_version`` is the survivor's version shown to staff.
    """
    merge = CustomerMerge.objects.get(pk=merge_id)
    ids = [merge.survivor_id, *merge.absorbed_ids]
    customers_lock(ids=ids)
    merge = locked(CustomerMerge.objects.filter(pk=merge_id)).get()
    survivor = Customer.objects.get(pk=merge.survivor_id)
    if expected_version is not None and survivor.version != expected_version:
        raise ValidationError(UNMERGE_STALE, code="unmerge_stale")
    blockers = merge_undo_blockers(merge)
    if blockers:
        raise ValidationError(blockers)
    try:
        # A savepoint: a customer created meanwhile with a restored email must not end the
        # transaction with a database error; staff get the reason instead.
        with transaction.atomic():
            return _unmerge_apply(actor=actor, merge=merge, survivor=survivor)
    except IntegrityError as exc:
        raise ValidationError(UNMERGE_CONFLICT, code="unmerge_conflict") from exc


def _unmerge_apply(*, actor: Actor, merge: CustomerMerge, survivor: Customer) -> UnmergeResult:
    now = timezone.now()
    restored_values = _restored_values(merge, survivor)
    Customer.objects.filter(pk=survivor.pk).update(
        **restored_values, version=F("version") + 1, updated_at=now
    )
    statuses = {int(pk): before["status"] for pk, before in merge.absorbed_before.items()}
    Customer.objects.filter(pk__in=list(statuses)).update(
        status=_by_owner("pk", {pk: [pk] for pk in statuses}, statuses),
        merged_into=None,
        version=F("version") + 1,
        updated_at=now,
    )
    moved = {int(pk): items for pk, items in merge.moved.items()}
    summaries = {owner: {} for owner in moved}
    for key, model, owner_field in (
        ("orders", Order, "customer_id"),
        ("notes", Note, "customer_id"),
        ("addresses", Address, "customer_id"),
        ("tag_links", TaggedCustomer, "content_object_id"),
    ):
        ids_by_owner = {owner: items[key] for owner, items in moved.items() if items[key]}
        # Only what is still on the survivor goes back: what was deleted since stays deleted.
        still_here = set(
            model.objects.filter(
                pk__in=[pk for ids in ids_by_owner.values() for pk in ids],
                **{owner_field: survivor.pk},
            ).values_list("pk", flat=True)
        )
        ids_by_owner = {
            owner: [pk for pk in ids if pk in still_here] for owner, ids in ids_by_owner.items()
        }
        ids_by_owner = {owner: ids for owner, ids in ids_by_owner.items() if ids}
        for owner in moved:
            summaries[owner][key] = len(ids_by_owner.get(owner, []))
        if not ids_by_owner:
            continue
        extra = {"is_default": False} if model is Address else {}
        model.objects.filter(pk__in=still_here).update(
            **{owner_field: _by_owner("pk", ids_by_owner)}, **extra
        )
    # The absorbed records' default addresses come back as their defaults.
    Address.objects.filter(
        pk__in=[pk for items in moved.values() for pk in items["defaults"]],
        customer_id__in=list(moved),
    ).update(is_default=True)
    TaggedCustomer.objects.bulk_create(
        [
            TaggedCustomer(content_object_id=owner, tag_id=tag)
            for owner, items in moved.items()
            for tag in items["tags_folded"]
        ],
        ignore_conflicts=True,
    )
    order_summaries_refresh(customer_ids=[survivor.pk, *moved])
    duplicate_keys_refresh(customer_ids=[survivor.pk, *statuses, *moved])
    counts = {
        key: sum(summary[key] for summary in summaries.values())
        for key in ("orders", "notes", "addresses", "tag_links")
    }
    merge.undone_at = now
    undone_by = actor_fields(actor)
    merge.undone_by = undone_by["actor"]
    merge.undone_by_label = undone_by["actor_label"]
    merge.save(update_fields=["undone_at", "undone_by", "undone_by_label"])
    customer_unmerged_events(
        actor=actor,
        merge_id=merge.pk,
        survivor_id=survivor.pk,
        absorbed_ids=merge.absorbed_ids,
        summaries=summaries,
        counts=counts,
        fields_restored=sorted(restored_values),
    )
    survivor.refresh_from_db()
    return UnmergeResult(
        survivor=survivor,
        restored=list(Customer.objects.filter(pk__in=merge.absorbed_ids)),
        **counts,
    )
