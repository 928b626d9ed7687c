"""Grammar that a catalogue alone cannot carry: French elision before a name."""

from __future__ import annotations

import re

from django.utils.translation import get_language

# A vowel or an h (names are read with a mute h: "d’Hélène", "d’Hugo").
ELIDING_INITIALS = set("aeiouyhàâäéèêëîïôöùûüœæ")


def elide(text: str, *names: str) -> str:
    """Elide French "de"/"que" before each of ``names`` in a translated ``text``.

    ``_("History of %(customer)s")`` is "Historique de %(customer)s" in the catalogue; for
    Alice it must read "Historique d’Alice". Other languages are returned unchanged.
    """
    if not (get_language() or "").lower().startswith("fr"):
        return text
    for name in names:
        name = str(name)
        if not name or name[0].lower() not in ELIDING_INITIALS:
            continue
        pattern = re.compile(rf"\b([Dd]|[Qq]u)e {re.escape(name)}")
        text = pattern.sub(lambda match, n=name: f"{match.group(1)}’{n}", text)
    return text
