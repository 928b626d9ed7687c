"""The customer list's search: exact identifiers through their index, words through a trigram index.

Three routes, cheapest first, each served by an index whatever the size of the table:

1. An exact identifier: an email (stored trimmed and lower-cased), a phone in any format (stored
   in E.164), a Shopify customer id or a sales channel's customer id. One indexed equality each;
   when one of them matches, that is the answer. (Not the username: "smith" may be one customer's
   username and ten customers' last name; usernames are found by the words route.)
2. Words: every word must appear, anywhere and in any case, in the first name, last name, email,
   company or username (the admin's ``icontains`` semantics, one field per word or several).
   Both databases read a table beside the customers, ``customers_customer_search``, kept by
   triggers (migration 0013): on PostgreSQL the fields lower-cased and joined by spaces under a
   pg_trgm GIN index, on SQLite an FTS5 table with the trigram tokenizer over the same fields. A
   word shorter than three characters has no trigram: it is matched by a scan, narrowed by the
   other words.
3. Part of a phone number (its digits): a ``LIKE`` on the phone. On PostgreSQL the search table
   holds the phone too, under a partial pg_trgm GIN (migration 0019): the words and the digits
   are two conditions on that one table, a BitmapOr of its two indexes, where an ``OR`` of
   the words' ids and the customer table's phone was tested row by row over every customer.
   SQLite reads the ids from its partial phone index (short entries, no table row).

Why a table beside the customers, kept by triggers: customers are written by raw set-based SQL
(``rows_insert``, ``QuerySet.update`` in the bulk services, the merge and erasure statements)
that no ``save()`` or signal sees: a trigger is the one hook every write path goes through,
erasure included (the erased name leaves the index in the same statement). Beside the customer
table, not on it, because an UPDATE that is not HOT writes an entry in every index of its table:
a bulk group, archive or version write (indexed columns, never HOT) would write some thirty
trigram entries per customer into a GIN index on the customer table; the side table is only
written when a searched field changes. Why FTS5 on SQLite rather than a prefix search: the
prefix search would change what staff find ("mith" no longer finds Smith) on one database only.
``search_index_missing`` names what a later migration that rebuilds the customer table on
SQLite would lose (its triggers); a test keeps it empty.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import F, Func, Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.utils.text import smart_split, unescape_string_literal

from customers.models import ChannelConnection, ChannelCustomerLink
from customers.phones import phone_search_candidates, phone_search_digits

# One "@", no spaces: what staff paste from an order or an email client.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
# A Shopify or channel id: one token of letters, digits and a few separators.
_IDENTIFIER = re.compile(r"[\w.:/-]{1,64}")

SEARCHED_FIELDS = ("first_name", "last_name", "email", "company", "username")
# The search table beside the customers (FTS5 on SQLite, a plain table on PostgreSQL) and the
# triggers on customers_customer that keep it (migrations 0011 and 0013).
SEARCH_TABLE = "customers_customer_search"
SEARCH_TRIGGERS = {
    "sqlite": tuple(f"{SEARCH_TABLE}_{kind}" for kind in ("ai", "ad", "au")),
    "postgresql": tuple(f"{SEARCH_TABLE}_{kind}" for kind in ("ai", "ad", "au", "at")),
}
# The conditions of the partial phone and Shopify id indexes (migration 0016), said in every
# lookup of them: SQLite's planner reads a partial index only when the query repeats its
# condition (it cannot prove "phone <> ''" from "phone = %s").
HAS_PHONE = ~Q(phone="")
HAS_SHOPIFY_ID = ~Q(shopify_id="")
# The pg_trgm GIN index (PostgreSQL) on the search table's text.
TRGM_INDEX = "customer_search_trgm"
# PostgreSQL's index for part of a phone's digits (migration 0019).
PHONE_TRGM_INDEX = "customer_phone_trgm"
TRIGRAM = 3


class SearchText(Func):
    """The searched fields, lower-cased and joined by spaces (the search table's text).

    A word holds no space, so it is found in the joined text exactly when it is in one field.
    """

    template = "LOWER(%(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = TextField()

    def __init__(self):
        super().__init__(*(F(name) for name in SEARCHED_FIELDS))


def search_words(term: str) -> list[str]:
    """Split a search term as the admin does: on spaces, a quoted phrase kept whole."""
    words = []
    for bit in smart_split(term):
        if bit[:1] in ('"', "'") and bit[0] == bit[-1] and len(bit) > 1:
            bit = unescape_string_literal(bit)
        if bit.strip():
            words.append(bit)
    return words


def customers_search(queryset: QuerySet, term: str) -> QuerySet:
    """Return the customers of ``queryset`` that the list's search box finds for ``term``."""
    term = term.strip()
    if not term:
        return queryset
    exact = customers_exact_match(queryset, term)
    if exact is not None:
        return exact
    words = search_words(term)
    phones = sorted(phone_search_candidates(term))
    digits = phone_search_digits(term)
    if not (phones or digits):
        return customers_matching_words(queryset, words)
    # A full number in any format, or a fragment of its digits (E.164 has no punctuation).
    if connection.vendor == "postgresql":
        return queryset.filter(pk__in=_words_or_phone_ids(queryset.model, words, phones, digits))
    phone = Q(phone__in=phones) if phones else Q()
    if digits:
        phone |= Q(phone__contains=digits)
    # The ids apart, read from the partial phone index alone (no customer row): tested on each
    # customer instead, the LIKE made SQLite read the table.
    phone_ids = queryset.model._base_manager.filter(phone & HAS_PHONE).values("pk")
    return customers_matching_words(queryset, words) | queryset.filter(pk__in=phone_ids)


def customers_exact_match(queryset: QuerySet, term: str) -> QuerySet | None:
    """Return the customers whose email, phone or an id is exactly the term, or None if none is.

    Each is an indexed equality: an index read whatever the size of the table, where the
    partial search reads a trigram index and scans its candidates. A term that matches
    nothing exactly falls back to the partial search.
    """
    condition = exact_match_condition(term)
    if condition is None:
        return None
    exact = queryset.filter(condition)
    return exact if exact.exists() else None


def exact_match_condition(term: str) -> Q | None:
    """The indexed equalities an exact term may mean (None when it can be no identifier)."""
    term = term.strip()
    if _EMAIL.fullmatch(term):
        return Q(email=term.lower())
    condition = Q()
    phones = phone_search_candidates(term)
    if phones:
        condition |= Q(phone__in=sorted(phones)) & HAS_PHONE
    if _IDENTIFIER.fullmatch(term):
        condition |= Q(shopify_id=term) & HAS_SHOPIFY_ID
        linked = channel_customer_ids(term)
        if linked:
            condition |= Q(pk__in=linked)
    return condition or None


def channel_customer_ids(external_id: str) -> list[int]:
    """The customers a sales channel knows by this id, on any connection (usually none or one).

    Read apart, as a list: "id IN (subquery)" OR-ed with the other equalities makes PostgreSQL
    scan the customers, where a few ids OR-ed with indexed columns are a bitmap of index reads.
    The unique index is on (connection, external_id): naming every connection (a handful)
    lets the database seek it instead of scanning the links.
    """
    links = ChannelCustomerLink.objects.filter(
        connection__in=ChannelConnection.objects.values("pk"), external_id=external_id
    )
    return sorted(links.values_list("customer_ref", flat=True)[:100])


def customers_matching_words(queryset: QuerySet, words: list[str]) -> QuerySet:
    """Customers in whose searched fields every word appears (in any case)."""
    if not words:
        return queryset
    if connection.vendor == "postgresql":
        return queryset.filter(pk__in=_trigram_match(words))
    long_words = [word for word in words if len(word) >= TRIGRAM]
    short_words = [word for word in words if len(word) < TRIGRAM]
    if connection.vendor == "sqlite" and long_words:
        queryset = queryset.filter(pk__in=_fts_match(long_words))
    else:
        short_words = words
    if short_words:
        queryset = queryset.alias(_search_text=SearchText())
        for word in short_words:
            queryset = queryset.filter(_search_text__contains=word.lower())
    return queryset


def _fts_match(words: list[str]) -> RawSQL:
    """The FTS5 rowids (customer ids) whose fields hold every word (trigram: any substring)."""
    query = " AND ".join('"{}"'.format(word.replace('"', '""')) for word in words)
    return RawSQL(f"SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH %s", [query])


def _trigram_match(words: list[str]) -> RawSQL:
    """The customer ids whose search text holds every word (PostgreSQL: the GIN index)."""
    condition, patterns = _trigram_condition(words)
    return RawSQL(f"SELECT customer_id FROM {SEARCH_TABLE} WHERE {condition}", patterns)


def _trigram_condition(words: list[str]) -> tuple[str, list[str]]:
    """The search table's text holds every word: its SQL and parameters."""
    patterns = [f"%{connection.ops.prep_for_like_query(word.lower())}%" for word in words]
    return " AND ".join(["text LIKE %s"] * len(words)), patterns


def _words_or_phone_ids(model, words: list[str], phones: list[str], digits: str) -> RawSQL:
    """The ids of the customers the words find, or whose phone holds ``digits`` or is one of
    ``phones`` (PostgreSQL).

    Words and digits are two conditions on the search table, each served by its trigram index
    (a BitmapOr); a full number is an equality on the customers' phone index, joined by UNION.
    Said as the partial indexes say it (phone <> ''), so that they may serve the query.
    """
    arms, params = [], []
    if words:
        condition, patterns = _trigram_condition(words)
        arms.append(f"({condition})")
        params.extend(patterns)
    if digits:
        arms.append("(phone <> '' AND phone LIKE %s)")
        params.append(f"%{connection.ops.prep_for_like_query(digits)}%")
    parts = [f"SELECT customer_id FROM {SEARCH_TABLE} WHERE {' OR '.join(arms)}"] if arms else []
    if phones:
        parts.append(f"SELECT id FROM {model._meta.db_table} WHERE phone <> '' AND phone = ANY(%s)")
        params.append(phones)
    return RawSQL(" UNION ".join(parts), params)


def search_index_missing() -> list[str]:
    """Name the parts of the search index this database lacks (none once migrated).

    On SQLite, a migration that rebuilds the customer table (how SQLite alters a column)
    drops its triggers: the search table would then silently fall behind.
    """
    vendor = connection.vendor
    if vendor not in SEARCH_TRIGGERS:
        return []
    wanted = (SEARCH_TABLE, *SEARCH_TRIGGERS[vendor])
    with connection.cursor() as cursor:
        if vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        else:
            wanted = (*wanted, TRGM_INDEX, PHONE_TRGM_INDEX)
            cursor.execute(
                "SELECT tablename FROM pg_tables WHERE tablename = %s "
                "UNION ALL SELECT indexname FROM pg_indexes WHERE tablename = %s "
                "UNION ALL SELECT tgname FROM pg_trigger "
                "WHERE tgrelid = 'customers_customer'::regclass AND NOT tgisinternal",
                [SEARCH_TABLE, SEARCH_TABLE],
            )
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in wanted if name not in present]
