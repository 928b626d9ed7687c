"""The customer list's search: an exact email or phone goes to its index before any scan."""

from __future__ import annotations

import re

from django.db.models import QuerySet

from customers.phones import phone_search_candidates

# One "@", no spaces: what staff paste from an order or an email client.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def customers_exact_match(queryset: QuerySet, term: str) -> QuerySet | None:
    """Return the customers whose email or phone is exactly the term, or None if none is.

    Emails are stored lower-case and phones in E.164, both indexed: the lookup is an index read
    whatever the size of the table, where the partial search scans every row. A term that
    matches nothing exactly falls back to the partial search.
    """
    term = term.strip()
    if _EMAIL.fullmatch(term):
        exact = queryset.filter(email=term.lower())
    else:
        phones = phone_search_candidates(term)
        if not phones:
            return None
        exact = queryset.filter(phone__in=sorted(phones))
    return exact if exact.exists() else None
