"""Column mappings for files of no known format: suggestions from header names, saved mappings.

A mapping is ``{column as written in the header: field}`` where a field is a key of
:data:`~.formats.MAPPING_FIELDS` or ``"ignore"``; :func:`~.formats.mapping_check` validates it
against a header and :func:`customers_import` reads the file through it (``mapping=``).
Suggestions understand the usual column names in English, French and Spanish and those of the
common exports (WooCommerce, Square, Lightspeed, Heartland, Mailchimp, Ghost, Shopify).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from customers.models import ImportMapping
from customers.services.importing.formats import (
    MAPPING_FIELDS,
    MAPPING_IGNORE,
    PASSWORD,
    ImportFileError,
    columns_plan,
    format_known,
    mapping_check,
)

SUGGESTED = "suggested"
MAPPING_NOT_FOUND = _("%(value)s is neither a saved column mapping, a JSON file nor “suggested”.")
MAPPING_FILE_INVALID = _(
    "The mapping file must hold one JSON object of column names to fields: %(error)s."
)
MAPPING_NAME_REQUIRED = _("Give the mapping a name to save it.")

# Column names (compared without case, accents or punctuation) -> field. The first column of
# a header suggesting a field gets it; a later one (Woo's billing_email after email) is ignored.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "e mail",
        "email address",
        "e mail address",
        "courriel",
        "adresse email",
        "adresse e mail",
        "adresse courriel",
        "adresse electronique",
        "mail",
        "correo",
        "correo electronico",
        "emailadresse",
        "e mail adresse",
        "user email",
        "customer email",
        "billing email",
    ),
    "phone": (
        "phone",
        "phone number",
        "telephone",
        "telephone number",
        "tel",
        "telefono",
        "numero de telephone",
        "numero de telefono",
        "mobile",
        "mobile phone",
        "mobile number",
        "cell",
        "cell phone",
        "cellphone",
        "portable",
        "movil",
        "celular",
        "billing phone",
        "address phone",
        "phone 1",
    ),
    "first_name": (
        "first name",
        "firstname",
        "first",
        "given name",
        "prenom",
        "fname",
        "vorname",
        "billing first name",
        "nombre de pila",
    ),
    "last_name": (
        "last name",
        "lastname",
        "last",
        "surname",
        "family name",
        "nom de famille",
        "apellido",
        "apellidos",
        "lname",
        "nachname",
        "billing last name",
    ),
    "full_name": (
        "name",
        "full name",
        "fullname",
        "nom complet",
        "nombre completo",
        "customer name",
        "contact name",
        "billing full name",
    ),
    "company": (
        "company",
        "company name",
        "organisation",
        "organization",
        "entreprise",
        "societe",
        "raison sociale",
        "empresa",
        "business name",
        "billing company",
    ),
    "date_of_birth": (
        "birthday",
        "birth date",
        "birthdate",
        "date of birth",
        "dob",
        "date de naissance",
        "fecha de nacimiento",
        "cumpleanos",
        "geburtstag",
        "anniversaire",
    ),
    "email_consent": (
        "accepts marketing",
        "accepts email marketing",
        "subscribed",
        "subscribed to emails",
        "consent",
        "email consent",
        "marketing consent",
        "newsletter",
        "optin",
        "opt in",
        "email opt in",
        "email subscription status",
        "accepts newsletter",
        "abonne",
        "consentement",
        "consentement email",
        "suscrito",
        "acepta marketing",
        "erlaubnis zum marketing",
        "customer accepts marketing",
    ),
    "sms_consent": ("accepts sms marketing", "sms consent", "sms opt in", "sms marketing"),
    "tax_exempt": ("tax exempt", "tax exemption", "exonere", "exento de impuestos"),
    "tags": ("tags", "tag", "labels", "label", "groups", "etiquettes", "etiquetas", "mots cles"),
    "note": (
        "note",
        "notes",
        "comment",
        "comments",
        "memo",
        "remarks",
        "remarques",
        "commentaire",
        "commentaires",
        "nota",
        "notas",
        "comentario",
        "comentarios",
        "observaciones",
        "customer note",
    ),
    "group": ("group", "customer group", "customer group name", "groupe", "grupo"),
    "username": (
        "username",
        "user name",
        "login",
        "user login",
        "customer code",
        "customer number",
        "customer",
        "customer id",
        "square customer id",
        "identifiant",
        "nom d utilisateur",
        "nombre de usuario",
    ),
    "address_company": ("address company", "default address company"),
    "address1": (
        "address",
        "address 1",
        "address1",
        "address line 1",
        "address line1",
        "street",
        "street address",
        "street address 1",
        "streetname",
        "adresse",
        "adresse 1",
        "adresse ligne 1",
        "direccion",
        "direccion 1",
        "calle",
        "billing address 1",
    ),
    "address2": (
        "address 2",
        "address2",
        "address line 2",
        "address line2",
        "street address 2",
        "adresse 2",
        "adresse ligne 2",
        "complement d adresse",
        "direccion 2",
        "billing address 2",
    ),
    "city": ("city", "town", "ville", "ciudad", "localite", "localidad", "stadt", "billing city"),
    "province_code": (
        "state",
        "province",
        "region",
        "province code",
        "state code",
        "state province",
        "departement",
        "provincia",
        "estado",
        "billing state",
        "billing state code",
    ),
    "postal_code": (
        "zip",
        "zip code",
        "zipcode",
        "postal code",
        "postcode",
        "post code",
        "code postal",
        "cp",
        "codigo postal",
        "plz",
        "postleitzahl",
        "billing postcode",
    ),
    "country_code": (
        "country",
        "country code",
        "country region",
        "country id",
        "pays",
        "pais",
        "billing country",
    ),
    "total_spent": (
        "total spent",
        "total spend",
        "lifetime spend",
        "amount spent",
        "total depense",
        "montant total",
        "gasto total",
    ),
    "total_orders": (
        "total orders",
        "orders",
        "order count",
        "transaction count",
        "number of orders",
        "nombre de commandes",
        "commandes",
        "pedidos",
        "numero de pedidos",
    ),
    PASSWORD: ("password", "mot de passe", "contrasena", "user pass"),
}
# Prefixes a platform puts before the usual names (Heartland's "Address City", Lightspeed's
# "physical_city"), tried when the whole name is not known.
PREFIXES = ("address ", "default address ", "physical ", "billing ", "customer ", "contact ")
# French "Nom" is the family name beside a "Prénom", the whole name alone; Spanish "Nombre" is
# the given name beside "Apellidos". The second field is the one taken when the first is there.
CONTEXTUAL = {
    "nom": ("full_name", "first_name", "last_name"),
    "nombre": ("full_name", "last_name", "first_name"),
}
# Mailchimp's CC and REGION are where the subscriber's IP was, not a postal address.
MAILCHIMP_MARKERS = {"member rating", "leid", "euid"}
MAILCHIMP_GEO = {"cc", "region"}

NAME_FALLBACKS = {"province_name": "province_code", "country_name": "country_code"}

_BY_NAME = {name: field for field, names in SYNONYMS.items() for name in names}


def header_normalise(name: str) -> str:
    """``Correo electrónico`` -> ``correo electronico``: no case, accents or punctuation."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9#]+", " ", plain).replace("#", " number").split())


def field_suggest(name: str) -> str:
    """The field a column of this name most likely holds, or ``"ignore"``."""
    key = header_normalise(name)
    if key in _BY_NAME:
        return _BY_NAME[key]
    for prefix in PREFIXES:
        if key.startswith(prefix) and key[len(prefix) :] in _BY_NAME:
            return _BY_NAME[key[len(prefix) :]]
    return MAPPING_IGNORE


def mapping_suggest(names: list[str]) -> dict[str, str]:
    """A mapping for a whole header: each column's suggestion, each field given once.

    A header of a known format gets what that format reads (to adjust it on the mapping page).
    """
    fmt = format_known(names)
    if fmt is not None:
        return _known_mapping(names, fmt)
    keys = [header_normalise(name) for name in names]
    mailchimp = bool(MAILCHIMP_MARKERS & set(keys))
    suggested = [field_suggest(name) for name in names]
    for index, key in enumerate(keys):
        if key in CONTEXTUAL:
            alone, other, instead = CONTEXTUAL[key]
            suggested[index] = instead if other in suggested else alone
        if mailchimp and key in MAILCHIMP_GEO:
            suggested[index] = MAPPING_IGNORE
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for name, target in zip(names, suggested, strict=True):
        if not name:
            continue
        if target in taken and target != PASSWORD:
            target = MAPPING_IGNORE
        taken.add(target)
        mapping[name] = target
    return mapping


def _known_mapping(names: list[str], fmt: str) -> dict[str, str]:
    """A known format's own reading of a header, written as a mapping."""
    plan = columns_plan(names, fmt)
    mapping = dict.fromkeys((name for name in names if name), MAPPING_IGNORE)
    targets = {target for _index, target, _header in plan.mapped}
    for _index, target, header in plan.mapped:
        # Shopify's older Province and Country: the names, read when the codes are absent.
        if target in NAME_FALLBACKS:
            target = NAME_FALLBACKS[target] if NAME_FALLBACKS[target] not in targets else None
        mapping[header] = target or MAPPING_IGNORE
    for index in plan.secret:
        mapping[names[index]] = PASSWORD
    return mapping


def header_key(names: list[str]) -> str:
    """What identifies a header for its saved mapping: its column names in order."""
    return hashlib.sha256(json.dumps(names, ensure_ascii=False).encode()).hexdigest()


def mapping_saved_for(names: list[str]):
    """The ImportMapping saved for this exact header (the latest saved), or None."""
    return (
        ImportMapping.objects.filter(header_key=header_key(names))
        .order_by("-created_at", "-pk")
        .first()
    )


@transaction.atomic
def import_mapping_save(*, actor, name: str, names: list[str], columns: dict[str, str]):
    """Save a checked mapping under ``name`` (replacing one of that name); return it."""
    if not name.strip():
        raise ImportFileError(MAPPING_NAME_REQUIRED, code="mapping_name")
    mapping_check(names, columns)
    saved, _created = ImportMapping.objects.update_or_create(
        name=name.strip(),
        defaults={
            "header": list(names),
            "header_key": header_key(names),
            "columns": dict(columns),
            "created_by": actor if getattr(actor, "pk", None) else None,
        },
    )
    return saved


@dataclass(frozen=True)
class MappingChoice:
    """What ``--mapping`` named: a saved mapping, a JSON file, or the suggestions."""

    value: str

    def resolve(self, names: list[str]) -> dict[str, str]:
        """The mapping for this header; raise :class:`ImportFileError` when there is none."""
        if self.value == SUGGESTED:
            return mapping_suggest(names)
        saved = ImportMapping.objects.filter(name=self.value).first()
        if saved is not None:
            return dict(saved.columns)
        path = Path(self.value)
        if not path.is_file():
            raise ImportFileError(
                MAPPING_NOT_FOUND, code="mapping_not_found", params={"value": self.value}
            )
        try:
            loaded = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ImportFileError(
                MAPPING_FILE_INVALID, code="mapping_file", params={"error": exc}
            ) from exc
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
        ):
            raise ImportFileError(
                MAPPING_FILE_INVALID,
                code="mapping_file",
                params={"error": _("not an object of strings")},
            )
        return loaded


def mapping_targets() -> list[tuple[str, str]]:
    """The choices of the mapping page's selects: ignore, then every field."""
    return [(MAPPING_IGNORE, _("— ignore this column —")), *MAPPING_FIELDS.items()]
