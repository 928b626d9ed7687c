"""Writing a planned batch: a handful of set-based statements whatever its size.

Customers, addresses, tag links, notes and one audit event per customer changed. The caller
holds the transaction; a unique constraint broken on the way (another writer created the same
customer meanwhile) surfaces as Django's ``IntegrityError``, even from PostgreSQL's COPY, which
bypasses Django's cursor.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import F
from django.utils.text import slugify

from customers.models import Address, Customer, EventKind, Note, Tag, TaggedCustomer
from customers.services.audit import events_record_bulk
from customers.services.bulk import ids_reserve, insert_fields, model_values, rows_insert
from customers.services.importing.plan import CustomerChange, Run


def batch_write(order: list[CustomerChange], run: Run) -> None:
    """Write a planned batch's customers and everything their rows add."""
    if not order:
        return
    # COPY runs on psycopg's own cursor: without this its UniqueViolation is no IntegrityError.
    with connection.wrap_database_errors:
        customers_insert([change for change in order if change.created], run)
        customers_update([c for c in order if not c.created and (c.dirty or c.changes)], run)
        addresses_write(order)
        tags_link(order, run.tag_index())
        notes_insert(order, run)
        events_write(order, run)
    for change in order:
        change.new_tags.clear()
        change.new_notes.clear()


def customers_insert(new: list[CustomerChange], run: Run) -> None:
    if not new:
        return
    for change, pk in zip(new, ids_reserve(model=Customer, count=len(new)), strict=True):
        change.customer.pk = pk
    fields = insert_fields(Customer, with_pk=True)
    rows_insert(
        model=Customer,
        fields=fields,
        rows=[model_values(change.customer, fields) for change in new],
    )


def customers_update(updated: list[CustomerChange], run: Run) -> None:
    if not updated:
        return
    versions = {}
    for change in updated:
        versions[id(change)] = change.customer.version + 1
        change.customer.version = F("version") + 1
        change.customer.updated_at = run.now
    fields = set().union(*(change.dirty for change in updated)) | {"version", "updated_at"}
    Customer.objects.bulk_update([c.customer for c in updated], sorted(fields), batch_size=500)
    for change in updated:
        # The rows are locked, so the stored version is the one we read plus one.
        change.customer.version = versions[id(change)]


def addresses_write(order: list[CustomerChange]) -> None:
    new_addresses = []
    for change in order:
        if change.address is not None and change.address_created:
            change.address.customer_id = change.customer.pk
            new_addresses.append(change.address)
    if new_addresses:
        fields = insert_fields(Address, with_pk=False)
        rows_insert(
            model=Address,
            fields=fields,
            rows=[model_values(address, fields) for address in new_addresses],
        )
    changed = [
        c for c in order if c.address is not None and not c.address_created and c.address_dirty
    ]
    if changed:
        Address.objects.bulk_update(
            [c.address for c in changed],
            sorted(set().union(*(c.address_dirty for c in changed))),
            batch_size=500,
        )


def tags_link(order: list[CustomerChange], tag_index: dict[str, int]) -> None:
    """Create the tags the batch names that the store lacks, then link them."""
    missing = {
        tag.lower(): tag
        for change in order
        for tag in change.new_tags
        if tag.lower() not in tag_index
    }
    tags_create(missing, tag_index)
    links = [(c.customer.pk, tag_index[tag.lower()]) for c in order for tag in c.new_tags]
    if links:
        rows_insert(
            model=TaggedCustomer,
            fields=("content_object_id", "tag_id"),
            rows=links,
            ignore_conflicts=True,
        )


def tags_create(missing: dict[str, str], tag_index: dict[str, int]) -> None:
    """Create the store's missing tags in bulk, with slugs that collide with nothing."""
    if not missing:
        return
    limit = Tag._meta.get_field("slug").max_length - 8
    wanted = {
        lower: (slugify(name, allow_unicode=True) or "tag")[:limit]
        for lower, name in missing.items()
    }
    taken = set(Tag.objects.filter(slug__in=set(wanted.values())).values_list("slug", flat=True))
    slugs = _free_slugs(wanted, taken)
    Tag.objects.bulk_create(
        [Tag(name=missing[lower], slug=slug) for lower, slug in slugs.items()],
        ignore_conflicts=True,
    )
    # Read back: a concurrent import may have created some of them first.
    for pk, name in Tag.objects.filter(name__in=list(missing.values())).values_list("pk", "name"):
        tag_index[name.lower()] = pk
    for lower, name in missing.items():
        if lower not in tag_index:
            tag = Tag.objects.filter(name__iexact=name).first()
            if tag is None:
                tag = Tag.objects.create(name=name)
            tag_index[lower] = tag.pk


def _free_slugs(wanted: dict[str, str], taken: set[str]) -> dict[str, str]:
    """Give each new tag its slug, numbering the ones that clash ("VIP!" beside "VIP")."""
    slugs: dict[str, str] = {}
    clashes: dict[str, str] = {}
    for lower, base in wanted.items():
        if base in taken or base in slugs.values():
            clashes[lower] = base
        else:
            slugs[lower] = base
    if not clashes:
        return slugs
    # Numbered like taggit does: vip_1, vip_2, ...
    prefixes = set(clashes.values())
    used = (
        set(
            Tag.objects.filter(slug__regex=r"_[0-9]+$")
            .filter(slug__in=[f"{p}_{i}" for p in prefixes for i in range(1, 50)])
            .values_list("slug", flat=True)
        )
        | set(slugs.values())
        | taken
    )
    for lower, base in clashes.items():
        i = 1
        while f"{base}_{i}" in used:
            i += 1
        slugs[lower] = f"{base}_{i}"
        used.add(slugs[lower])
    return slugs


def notes_insert(order: list[CustomerChange], run: Run) -> None:
    notes = [(c.customer.pk, None, body, run.now) for c in order for body in c.new_notes]
    if notes:
        rows_insert(
            model=Note,
            fields=("customer_id", "author_id", "body", "created_at"),
            rows=notes,
        )


def events_write(order: list[CustomerChange], run: Run) -> None:
    """One IMPORTED event per customer created or changed, naming the file and its records."""
    data_by_customer = {}
    for change in order:
        if not (change.created or change.changes):
            continue
        data: dict[str, Any] = {
            "file": run.result.file,
            "format": run.result.format,
            "records": change.records,
        }
        if change.created:
            data["created"] = True
        else:
            data["changes"] = change.changes
        data_by_customer[change.customer.pk] = data
    if data_by_customer:
        events_record_bulk(
            actor=run.actor,
            kind=EventKind.IMPORTED,
            customer_ids=list(data_by_customer),
            data_by_customer=data_by_customer,
        )
