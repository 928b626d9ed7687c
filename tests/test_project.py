"""Project-wide checks: system checks, migrations in step with models, complete translations."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

ROOT = Path(settings.BASE_DIR)
CATALOGUE_DIRS = ("backoffice", "customers", "groups", "templates")


def test_system_checks_pass():
    call_command("check", stdout=StringIO())


@pytest.mark.django_db
def test_migrations_match_the_models():
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())


def _need_gettext() -> None:
    if shutil.which("xgettext") and shutil.which("msgfmt"):
        return
    if os.environ.get("CI"):
        pytest.fail("CI must install gettext (xgettext, msgfmt) to check the catalogues")
    pytest.skip("gettext is not installed")


def _entries(po_text: str):
    for block in po_text.split("\n\n"):
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        if not msgid or msgid.group(1).strip() == '""':
            continue
        strs = re.findall(r'^msgstr(?:\[\d\])? ((?:".*"\n?)+)', block, re.M)
        text = "".join(re.findall(r'"(.*)"', msgid.group(1)))
        yield (
            text,
            "#, fuzzy" in block or ", fuzzy" in block,
            ["".join(re.findall(r'"(.*)"', s)) for s in strs],
        )


def test_french_and_spanish_catalogues_are_complete_and_compiled(tmp_path):
    """Extract every translatable string afresh and require a translation for each."""
    _need_gettext()
    for name in CATALOGUE_DIRS:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    # The committed .mo files must be what the committed .po files compile to.
    for po in ROOT.glob("*/locale/*/LC_MESSAGES/django.po"):
        compiled = tmp_path / "check.mo"
        subprocess.run(["msgfmt", "-o", str(compiled), str(po)], check=True)
        assert compiled.read_bytes() == po.with_suffix(".mo").read_bytes(), (
            f"{po.with_suffix('.mo')} is stale: run manage.py compilemessages"
        )
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "backoffice.settings",
    }
    env.pop("DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "fr", "-l", "es", "--no-obsolete"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    problems = []
    for po in sorted(tmp_path.glob("*/locale/*/LC_MESSAGES/django.po")):
        for msgid, fuzzy, msgstrs in _entries(po.read_text(encoding="utf-8")):
            if fuzzy or not msgstrs or not all(msgstrs):
                problems.append(f"{po.relative_to(tmp_path)}: {msgid!r}")
    assert not problems, "untranslated:\n" + "\n".join(problems)
