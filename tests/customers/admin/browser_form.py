"""Read a rendered page's confirmation form and post it back the way a browser would."""

from __future__ import annotations

import html
from html.parser import HTMLParser

SKIPPED_ACTIONS = ("/logout/", "/i18n/setlang/")


class _Forms(HTMLParser):
    """Every POST form of a page: its action and the fields a browser would submit."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._fields: list[tuple[str, str]] | None = None
        self._select: tuple[str, list[str], list[str]] | None = None
        self._textarea: list | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self._fields = []
            self.forms.append((a.get("action", ""), self._fields))
        if self._fields is None:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self._fields.append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self._select = (a["name"], [], [])
        elif tag == "option" and self._select is not None:
            self._select[1].append(a.get("value", ""))
            if "selected" in a:
                self._select[2].append(a.get("value", ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if self._fields is None:
            return
        if tag == "select" and self._select is not None:
            name, options, chosen = self._select
            for value in chosen or options[:1]:
                self._fields.append((name, value))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._fields.append((self._textarea[0], self._textarea[1].lstrip("\n")))
            self._textarea = None
        elif tag == "form":
            self._fields = None


def page_form(response) -> tuple[str, dict[str, list[str]]]:
    """The page's confirmation form: where it posts and what it posts, as typed by no one."""
    parser = _Forms()
    parser.feed(response.content.decode())
    forms = [
        (action, fields) for action, fields in parser.forms if not action.endswith(SKIPPED_ACTIONS)
    ]
    assert len(forms) == 1, [action for action, _fields in forms]
    action, fields = forms[0]
    payload: dict[str, list[str]] = {}
    for name, value in fields:
        if name != "csrfmiddlewaretoken":
            payload.setdefault(name, []).append(value)
    return html.unescape(action) or response.wsgi_request.get_full_path(), payload


def submit(client, response, *, button: str | None = None, follow: bool = True, **typed):
    """Post the page's form with ``typed`` values filled in (and ``button`` pressed)."""
    url, payload = page_form(response)
    payload.update({k: v if isinstance(v, list) else [v] for k, v in typed.items()})
    if button:
        payload[button] = [""]
    return client.post(url, payload, follow=follow)
