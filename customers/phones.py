"""Phone numbers: E.164 in the database, national format on screen for the store's region."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from django.apps import apps
from django.conf import settings
from django.core.cache import cache


def store_region() -> str:
    """Return the store's default phone region (ISO 3166-1 alpha-2)."""
    return settings.BACKOFFICE_PHONE_REGION


def phone_region(*, country_code: str | None) -> str:
    """The region a customer's phone is read in: its (default) address's country, else the store's.

    The one rule for the change form, the import and ``Customer.clean``: a national number is
    dialled from where the customer lives.
    """
    return (country_code or "").strip().upper() or store_region()


def phone_to_e164(raw: str | None, region: str | None = None) -> str | None:
    """Return the number in E.164 if phonenumbers says it is valid, else None.

    A leading apostrophe (spreadsheets write one to keep a '+') is dropped. ``region`` is the
    country the number is dialled from; the store's default region is used when it is empty.
    """
    if raw is None:
        return None
    text = str(raw).strip().lstrip("'").strip()
    if not text:
        return None
    region = phone_region(country_code=region)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Numbers remembered by phone_to_e164_cached: a file's households and re-imported rows repeat
# them, and each parse costs ~50 µs. Bounded, so a huge file keeps memory flat.
PHONE_CACHE_SIZE = 65_536


@lru_cache(maxsize=PHONE_CACHE_SIZE)
def phone_to_e164_cached(raw: str, region: str) -> str:
    """:func:`phone_to_e164` remembered by (raw, region), with "" for an invalid number.

    For a bulk reader (the import) only: the store's default region must be resolved by the
    caller, since a changed setting would not reach a remembered answer.
    """
    return phone_to_e164(raw, region) or ""


def phone_display(e164: str | None) -> str:
    """Format a stored E.164 number: national for the store's region, international otherwise."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    region = phonenumbers.region_code_for_number(number)
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if region == store_region()
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)


E164_IN_TEXT = re.compile(r"\+[1-9]\d{6,14}\b")


def phone_display_in_text(text: str) -> str:
    """Show every E.164 number inside a stored text (a label "Ann <+33612345678>") as
    :func:`phone_display` shows it."""
    return E164_IN_TEXT.sub(lambda match: phone_display(match.group()), text)


PHONE_CHARACTERS = set("0123456789+-(). '")


def phone_search_digits(text: str) -> str:
    """Return the digits of a search term that looks like (part of) a phone number, else ''."""
    text = text.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < 6 or not set(text) <= PHONE_CHARACTERS:
        return ""
    return digits


SEARCH_REGIONS_CACHE_KEY = "customers:phone-search-regions"
SEARCH_REGIONS_CACHE_SECONDS = 600


def phone_search_regions() -> list[str]:
    """The regions a national number typed in a search may be dialled from: the store's and
    those of its customers' addresses (read once per ten minutes: one DISTINCT query)."""

    def read() -> list[str]:
        address = apps.get_model("customers", "Address")
        codes = address.objects.exclude(country_code="").values_list("country_code", flat=True)
        return sorted({code.strip().upper() for code in codes.distinct().order_by()} - {""})

    regions = cache.get_or_set(SEARCH_REGIONS_CACHE_KEY, read, SEARCH_REGIONS_CACHE_SECONDS)
    return [store_region(), *(region for region in regions if region != store_region())]


def phone_search_regions_forget() -> None:
    """Forget the cached regions (a test building its own store, an import of a new country)."""
    cache.delete(SEARCH_REGIONS_CACHE_KEY)


def phone_search_candidates(text: str) -> set[str]:
    """Return the E.164 forms a search box entry may mean, for search by phone in any format.

    A national number (``06 12 34 56 78``) is read in every region the store's customers live
    in, so a French number finds French customers in a US store.
    """
    digits = phone_search_digits(text)
    if not digits:
        return set()
    candidates = set()
    for region in phone_search_regions():
        e164 = phone_to_e164(text, region)
        if e164:
            candidates.add(e164)
    if not text.strip().startswith("+"):
        e164 = phone_to_e164("+" + digits)
        if e164:
            candidates.add(e164)
    return candidates
