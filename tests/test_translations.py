"""French and Spanish catalogues: one term per concept (the glossary), plural forms that agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "customers" / "locale" / "GLOSSARY.md"
LANGUAGES = ("fr", "es")


def _unquote(lines: str) -> str:
    return "".join(
        bytes(part, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
        for part in re.findall(r'"(.*)"', lines)
    )


def catalogue_entries(language: str) -> list[dict]:
    """Every translated entry of the project's catalogues in ``language``."""
    entries = []
    for po in sorted(ROOT.glob(f"*/locale/{language}/LC_MESSAGES/django.po")):
        for block in po.read_text(encoding="utf-8").split("\n\n"):
            fields = dict(
                re.findall(r'^(msgid|msgid_plural|msgstr(?:\[\d\])?) ((?:".*"\n?)+)', block, re.M)
            )
            if not _unquote(fields.get("msgid", '""')):
                continue
            entries.append(
                {
                    "po": f"{po.relative_to(ROOT)}",
                    "msgid": _unquote(fields["msgid"]),
                    "plural": _unquote(fields.get("msgid_plural", '""')),
                    "msgstrs": [
                        _unquote(value)
                        for key, value in sorted(fields.items())
                        if key.startswith("msgstr")
                    ],
                }
            )
    return entries


def glossary() -> list[dict]:
    """The glossary table: per concept, its English words and each language's chosen and
    rejected stems."""
    rows = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 6 or cells[0] in ("Concept", "---") or set(cells[0]) == {"-"}:
            continue

        def words(cell: str) -> list[str]:
            return [word.strip() for word in cell.split(",") if word.strip()]

        rows.append(
            {
                "concept": cells[0],
                "en": words(cells[1]),
                "fr": words(cells[2]),
                "es": words(cells[3]),
                "not_fr": words(cells[4]),
                "not_es": words(cells[5]),
            }
        )
    return rows


def _pattern(word: str) -> str:
    # "suprim*" is a stem; any other word is matched whole (so "historia" is not "historial").
    if word.endswith("*"):
        return rf"(?<![\w-]){re.escape(word[:-1])}"
    return rf"(?<![\w-]){re.escape(word)}(?![\w-])"


def _translated_part(text: str, english: str) -> str:
    """The text without the words copied unchanged from the English (column names, placeholders)."""
    text = re.sub(r"\{\w+\}|%\(\w+\)[sd]", " ", text)
    copied = set(re.findall(r"[\w-]+", re.sub(r"\{\w+\}|%\(\w+\)[sd]", " ", english)))
    return " ".join(word for word in re.findall(r"[\w’'-]+", text) if word not in copied)


def _uses(text: str, words: list[str]) -> bool:
    return any(re.search(_pattern(word), text, re.I) for word in words)


def test_the_glossary_covers_the_concepts_staff_meet_most():
    concepts = {row["concept"].split(" (")[0] for row in glossary()}
    assert {
        "Erasure of personal data",
        "Deletion of a record",
        "Merge of duplicate customers",
    } <= concepts
    for row in glossary():
        assert row["en"] and row["fr"] and row["es"], row["concept"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_message_uses_a_rejected_synonym(language):
    problems = [
        f"{entry['po']}: {text!r} uses a word the glossary rejects for {row['concept']}"
        for entry in catalogue_entries(language)
        for text in entry["msgstrs"]
        for row in glossary()
        if _uses(
            _translated_part(text, f"{entry['msgid']} {entry['plural']}"), row[f"not_{language}"]
        )
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_message_uses_the_glossary_term_of_its_concept(language):
    problems = []
    for entry in catalogue_entries(language):
        english = f"{entry['msgid']} {entry['plural']}"
        for row in glossary():
            for text in entry["msgstrs"]:
                own_words = _translated_part(english, text)
                if _uses(own_words, row["en"]) and not _uses(text, row[language]):
                    problems.append(
                        f"{entry['po']}: {text!r} should say {row[language]} ({row['concept']})"
                    )
    assert not problems, "\n".join(problems)


PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_forms_agree(language):
    """Each plural entry has its two forms, the plural one with every placeholder of the English
    plural, and the singular one different from the plural one when the English differs."""
    problems = []
    for entry in catalogue_entries(language):
        if not entry["plural"]:
            continue
        one, many = (entry["msgstrs"] + ["", ""])[:2]
        if not one or not many:
            problems.append(f"{entry['po']}: {entry['msgid']!r} lacks a form")
            continue
        if set(PLACEHOLDER.findall(many)) != set(PLACEHOLDER.findall(entry["plural"])):
            problems.append(f"{entry['po']}: {many!r} has other placeholders than the English")
        if not set(PLACEHOLDER.findall(one)) <= set(PLACEHOLDER.findall(entry["plural"])):
            problems.append(f"{entry['po']}: {one!r} has a placeholder the English has not")
        if one == many and _plural_words_differ(entry["msgid"], entry["plural"]):
            problems.append(f"{entry['po']}: {one!r} is the same in singular and plural")
    assert not problems, "\n".join(problems)


def _plural_words_differ(singular: str, plural: str) -> bool:
    # "Merges (%(counter)s)" is the same word in both: only a real plural needs two forms.
    return PLACEHOLDER.sub("", singular) != PLACEHOLDER.sub("", plural)
