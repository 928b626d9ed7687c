"""Tagging many customers at once: tags matched case-insensitively to the store's one tag set."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Value
from django.utils.translation import gettext_lazy as _

from customers.audit.events import (
    Actor,
    customers_tags_changed_events,
    customers_tags_linked_events,
)
from customers.db.bulk import (
    IdIn,
    Selection,
    customers_with_ids,
    delete_returning,
    id_batches,
    insert_from_select_returning,
    tag_links_delete,
    tag_links_insert_sql,
    tag_links_rows_sql,
)
from customers.db.locks import selection_lock
from customers.models import EventKind, Tag, TaggedCustomer

TAG_NAMES_EMPTY = _("Give at least one tag.")
TAG_NAME_TOO_LONG = _("A tag name has at most %(max)d characters: “%(name)s” is too long.")

TAG_NAME_MAX = Tag._meta.get_field("name").max_length
SLUG_MAX = Tag._meta.get_field("slug").max_length


@dataclass
class TagChangeResult:
    """What a bulk tag change did: per tag name, how many customers gained (or lost) it."""

    selected: int
    changed: int
    per_tag: dict[str, int] = field(default_factory=dict)
    # Which customers changed: a tag change no longer moves the customer's version.
    changed_ids: list[int] = field(default_factory=list, repr=False)


def _key(name: str) -> str:
    # casefold in Python: SQLite's lower() only folds ASCII, so "Été" and "été" must meet here.
    return name.casefold()


def tag_names_clean(names: Iterable[str]) -> list[str]:
    """Strip the names, drop empty ones and case-insensitive duplicates (first spelling wins)."""
    cleaned: dict[str, str] = {}
    for raw in names:
        name = " ".join(str(raw).split())
        if not name:
            continue
        if len(name) > TAG_NAME_MAX:
            raise ValidationError(
                TAG_NAME_TOO_LONG,
                code="tag_name_too_long",
                params={"max": TAG_NAME_MAX, "name": name},
            )
        cleaned.setdefault(_key(name), name)
    return list(cleaned.values())


def tag_names_parse(text: str | None) -> list[str]:
    """Read tags typed the way Shopify takes them: separated by commas only.

    "Black Friday, Gift card buyer" is two tags; spaces inside a name are kept (collapsed).
    The one parser of the change form and the bulk tag forms (and the import's Tags cells).
    """
    return tag_names_clean(_unquoted(name) for name in str(text or "").split(","))


def _unquoted(name: str) -> str:
    # Text copied from a taggit field ("Loyal customer", VIP) keeps its meaning.
    name = name.strip()
    return name[1:-1] if len(name) > 1 and name[0] == name[-1] == '"' else name


def tag_names_format(names: Iterable[str]) -> str:
    """Write tag names back the way staff type them (``Loyal customer, Newsletter``)."""
    return ", ".join(names)


# Room left in a slug for the "_<n>" that frees it.
SLUG_ROOM = 8


def _slug_base(name: str) -> str:
    return Tag().slugify(name)[: SLUG_MAX - SLUG_ROOM] or "tag"


def _free_slugs(names: list[str], taken: set[str]) -> dict[str, str]:
    """Give each name a slug nothing else holds ("VIP!" next to "VIP" gets "vip_1").

    Linear in the number of names: the next number tried is remembered per base.
    """
    taken = set(taken)
    next_number: dict[str, int] = {}
    slugs: dict[str, str] = {}
    for name in names:
        base = _slug_base(name)
        slug = base
        if slug in taken:
            number = next_number.get(base, 1)
            while f"{base}_{number}" in taken:
                number += 1
            slug = f"{base}_{number}"
            next_number[base] = number + 1
        taken.add(slug)
        slugs[name] = slug
    return slugs


def _tag_create(name: str) -> Tag:
    """Create one tag with a free slug; if someone created the same name meanwhile, use theirs."""
    for _attempt in range(5):
        taken = set(Tag.objects.values_list("slug", flat=True))
        tag = Tag(name=name, slug=_free_slugs([name], taken)[name])
        try:
            with transaction.atomic():
                tag.save()
            return tag
        except IntegrityError:
            for existing in Tag.objects.all():
                if _key(existing.name) == _key(name):
                    return existing
    raise IntegrityError(f"could not create tag {name!r}")


@transaction.atomic
def tags_create(*, names: Iterable[str]) -> dict[str, Tag]:
    """Create the named tags, new to the store, with free slugs; return them by given name.

    The one way tags are created (bulk tagging, the import): a few queries whatever the count.
    A name another writer created meanwhile (in any case) resolves to that tag.
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    slugs = _free_slugs(wanted, set(Tag.objects.values_list("slug", flat=True)))
    Tag.objects.bulk_create(
        [Tag(name=name, slug=slugs[name]) for name in wanted], ignore_conflicts=True
    )
    by_key = {_key(tag.name): tag for tag in Tag.objects.filter(slug__in=list(slugs.values()))}
    if len(by_key) < len(wanted):
        by_key = {_key(tag.name): tag for tag in Tag.objects.all()}
    return {
        name: by_key[_key(name)] if _key(name) in by_key else _tag_create(name) for name in wanted
    }


@transaction.atomic
def tags_resolve(*, names: Iterable[str], create: bool) -> tuple[list[Tag], list[str]]:
    """Match names to the store's tags case-insensitively; return (tags, names not found).

    With ``create`` each missing tag is created once, so nothing is left unfound.
    """
    wanted = tag_names_clean(names)
    # The tag set of a store is small; matching in Python is exact on every database.
    by_key = {_key(tag.name): tag for tag in Tag.objects.all()}
    tags: list[Tag] = []
    missing: list[str] = []
    if create:
        created = tags_create(names=[name for name in wanted if _key(name) not in by_key])
        by_key.update((_key(name), tag) for name, tag in created.items())
    for name in wanted:
        tag = by_key.get(_key(name))
        if tag is None:
            missing.append(name)
        else:
            tags.append(tag)
    return tags, missing


@transaction.atomic
def customers_add_tags(
    *, actor: Actor, customers: Selection, names: Iterable[str]
) -> TagChangeResult:
    """Add the named tags to the selected customers, creating unknown tags once.

    Customers that already have a tag keep it and are not counted for it. On PostgreSQL one
    statement writes the links and their events; on SQLite one INSERT per tag and batch of
    customers. The customer rows themselves are not rewritten (see :func:`_finish`).
    """
    tags, _missing = tags_resolve(names=names, create=True)
    if not tags:
        raise ValidationError(TAG_NAMES_EMPTY, code="tags_empty")
    ids = selection_lock(customers)
    if connection.vendor == "postgresql":
        by_tag = customers_tags_linked_events(
            actor=actor,
            added=True,
            links=tag_links_insert_sql(ids, [tag.pk for tag in tags]),
            tags=[(tag.pk, tag.name) for tag in tags],
        )
        return _result(tags, ids, by_tag)
    return _finish(actor, EventKind.TAGS_ADDED, tags, ids, tag_links_add(ids, tags))


@transaction.atomic
def customers_remove_tags(
    *, actor: Actor, customers: Selection, names: Iterable[str]
) -> TagChangeResult:
    """Remove the named tags from the selected customers.

    A customer without the tag, or a name that is no tag at all, is not an error: it counts 0.
    """
    wanted = tag_names_clean(names)
    if not wanted:
        raise ValidationError(TAG_NAMES_EMPTY, code="tags_empty")
    tags, missing = tags_resolve(names=wanted, create=False)
    ids = selection_lock(customers)
    tag_ids = [tag.pk for tag in tags]
    if tag_ids and connection.vendor == "postgresql":
        # A plain DELETE first (see tag_links_delete), then the events from the pairs it
        # returned, built by the database.
        by_tag = customers_tags_linked_events(
            actor=actor,
            added=False,
            links=tag_links_rows_sql(tag_links_delete(ids, tag_ids)),
            tags=[(tag.pk, tag.name) for tag in tags],
        )
        result = _result(tags, ids, by_tag)
    else:
        result = _finish(actor, EventKind.TAGS_REMOVED, tags, ids, tag_links_remove(ids, tag_ids))
    for name in missing:
        result.per_tag[name] = 0
    return result


def tag_links_add(ids: list[int], tags: list[Tag]) -> dict[int, list[int]]:
    """Link these (locked) customers to these tags, one INSERT per tag and batch; return the
    tag ids each customer gained (the database skips the links that exist).

    On PostgreSQL one statement for every tag and customer.
    """
    gained: dict[int, list[int]] = defaultdict(list)
    if connection.vendor == "postgresql":
        sql, params = tag_links_insert_sql(ids, [tag.pk for tag in tags])
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for customer_id, tag_id in cursor.fetchall():
                gained[customer_id].append(tag_id)
        return gained
    for tag in tags:
        for batch in id_batches(ids):
            links = customers_with_ids(batch).annotate(_tag=Value(tag.pk), _pk=F("pk"))
            new = insert_from_select_returning(
                TaggedCustomer,
                ["tag", "content_object"],
                links.values_list("_tag", "_pk"),
                returning=["content_object"],
                ignore_conflicts=True,
            )
            for (customer_id,) in new:
                gained[customer_id].append(tag.pk)
    return gained


def tag_links_remove(ids: list[int], tag_ids: list[int]) -> dict[int, list[int]]:
    """Delete these (locked) customers' links to these tags; return the tag ids each lost.

    On PostgreSQL one statement for every tag and customer.
    """
    lost: dict[int, list[int]] = defaultdict(list)
    if not tag_ids:
        return lost
    if connection.vendor == "postgresql":
        for customer_id, tag_id in tag_links_delete(ids, tag_ids):
            lost[customer_id].append(tag_id)
        return lost
    for batch in id_batches(ids):
        links = TaggedCustomer.objects.filter(
            IdIn(F("content_object_id"), batch), tag_id__in=tag_ids
        )
        for customer_id, tag_id in delete_returning(links, returning=["content_object", "tag"]):
            lost[customer_id].append(tag_id)
    return lost


def _finish(
    actor: Actor, kind: str, tags: list[Tag], ids: list[int], changed: dict[int, list[int]]
) -> TagChangeResult:
    """Write one event per changed customer, count per tag.

    The customer rows are left alone (no version bump): a tag change is a link row, and the
    change form's conflict check compares the tag set it was loaded with instead
    (``customer_check_version(expected_tags=...)``). Rewriting 100,000 customer rows cost more
    than the rest of a bulk tag action together.
    """
    names = {tag.pk: tag.name for tag in tags}
    order = {tag.pk: index for index, tag in enumerate(tags)}
    changed_ids = sorted(changed)
    payloads: dict[tuple[int, ...], dict] = {}

    def payload(tag_ids: list[int]) -> dict:
        # One dict per combination of tags, shared: the audit groups events by it.
        key = tuple(sorted(tag_ids, key=order.__getitem__))
        if key not in payloads:
            payloads[key] = {"tags": [names[t] for t in key]}
        return payloads[key]

    customers_tags_changed_events(
        actor=actor,
        added=kind == EventKind.TAGS_ADDED,
        tags_by_customer={pk: payload(changed[pk]) for pk in changed_ids},
    )
    counts = Counter(tag_id for tag_ids in changed.values() for tag_id in tag_ids)
    return TagChangeResult(
        selected=len(ids),
        changed=len(changed_ids),
        per_tag={tag.name: counts.get(tag.pk, 0) for tag in tags},
        changed_ids=changed_ids,
    )


def _result(tags: list[Tag], ids: list[int], by_tag: dict[int, list[int]]) -> TagChangeResult:
    """The result of a tag change the database wrote with its events (per tag, who changed)."""
    changed_ids = sorted({pk for pks in by_tag.values() for pk in pks})
    return TagChangeResult(
        selected=len(ids),
        changed=len(changed_ids),
        per_tag={tag.name: len(by_tag.get(tag.pk, ())) for tag in tags},
        changed_ids=changed_ids,
    )
