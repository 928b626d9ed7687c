"""Address rules: US military addresses (APO/FPO/DPO) as USPS defines them."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MILITARY_CITIES = {"APO", "FPO", "DPO"}
MILITARY_STATES = {"AA", "AE", "AP"}
MILITARY_LINE_RE = re.compile(r"^(UNIT|CMR|PSC)\s+\d+\s+BOX\s+\d+$", re.IGNORECASE)
MILITARY_ZIP_PREFIXES = {
    "AA": ("340",),
    "AE": tuple(f"0{n}" for n in range(90, 99)),
    "AP": tuple(str(n) for n in range(962, 967)),
}

MILITARY_CITY = _("A US military address needs APO, FPO or DPO as its city.")
MILITARY_STATE = _("A US military address needs AA, AE or AP as its state.")
MILITARY_COUNTRY = _("A US military address must have US as its country.")
MILITARY_LINE = _(
    "A US military address needs 'UNIT, CMR or PSC <number> BOX <number>' as its first line."
)
MILITARY_ZIP = _("The ZIP code %(zip)s does not belong to military state %(state)s.")


def is_military(*, city: str, province_code: str) -> bool:
    """Tell whether the address claims to be a US military one."""
    return (city or "").strip().upper() in MILITARY_CITIES or (
        province_code or ""
    ).strip().upper() in MILITARY_STATES


def military_address_errors(
    *, address1: str, city: str, province_code: str, country_code: str, postal_code: str
) -> dict[str, ValidationError]:
    """Return the field errors of a US military address (empty when fine or not military)."""
    if not is_military(city=city, province_code=province_code):
        return {}
    city_u = (city or "").strip().upper()
    state_u = (province_code or "").strip().upper()
    errors: dict[str, ValidationError] = {}
    if city_u not in MILITARY_CITIES:
        errors["city"] = ValidationError(MILITARY_CITY, code="military_city")
    if state_u not in MILITARY_STATES:
        errors["province_code"] = ValidationError(MILITARY_STATE, code="military_state")
    if (country_code or "").strip().upper() != "US":
        errors["country_code"] = ValidationError(MILITARY_COUNTRY, code="military_country")
    if not MILITARY_LINE_RE.match(" ".join((address1 or "").split())):
        errors["address1"] = ValidationError(MILITARY_LINE, code="military_line")
    zip_code = (postal_code or "").strip()
    if (
        zip_code
        and state_u in MILITARY_STATES
        and not zip_code.startswith(MILITARY_ZIP_PREFIXES[state_u])
    ):
        errors["postal_code"] = ValidationError(
            MILITARY_ZIP, code="military_zip", params={"zip": zip_code, "state": state_u}
        )
    return errors


def military_normalise(values: dict[str, str]) -> dict[str, str]:
    """Upper-case the military parts of a valid military address (city, state, line, country)."""
    if not is_military(city=values.get("city", ""), province_code=values.get("province_code", "")):
        return values
    out = dict(values)
    for key in ("city", "province_code", "country_code"):
        out[key] = (out.get(key) or "").strip().upper()
    out["address1"] = " ".join((out.get("address1") or "").split()).upper()
    return out
