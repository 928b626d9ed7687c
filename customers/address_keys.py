"""The address matching key: country, postal code and street lines with case, spacing and
punctuation ignored, as one deterministic SQL expression (SQLite and PostgreSQL alike) and its
a Python ``squeeze`` for the other address fields."""

from __future__ import annotations

import re

from django.db.models import CharField, Func, Value
from django.db.models.functions import Lower, Replace, Trim, Upper

# Ignored when comparing street lines and postal codes (besides case).
IGNORED_CHARACTERS = (" ", "\t", ".", ",", "-", "'", '"', "#", "/", "(", ")", ";", ":", "_")
_IGNORED_RE = re.compile("[" + re.escape("".join(IGNORED_CHARACTERS)) + "]")


class Pipes(Func):
    """Concatenate text columns with ``||``: flat, unlike ``Concat``'s nested COALESCE pairs.

    The columns are NOT NULL, so no COALESCE is needed; a flat expression keeps SQLite's parser
    stack shallow and stays IMMUTABLE on PostgreSQL, as a generated column requires.
    """

    template = "(%(expressions)s)"
    arg_joiner = " || "
    output_field = CharField()


def _squeeze(expression) -> Func:
    """Lower-case and drop spacing and punctuation, in SQL (REPLACE and LOWER exist everywhere)."""
    result = Lower(expression)
    for character in IGNORED_CHARACTERS:
        result = Replace(result, Value(character), Value(""))
    return result


def squeeze(text: str) -> str:
    """Python twin of ``_squeeze``, for code that compares addresses already in memory."""
    return _IGNORED_RE.sub("", (text or "").lower())


def address_key_expression() -> Func:
    """The address key: COUNTRY|postalcode|streetlines, as one immutable SQL expression."""
    return Pipes(
        Upper(Trim("country_code")),
        Value("|"),
        _squeeze("postal_code"),
        Value("|"),
        _squeeze(Pipes("address1", Value(" "), "address2")),
    )
