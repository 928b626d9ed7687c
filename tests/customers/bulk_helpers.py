"""Drive the customer list's bulk actions the way a browser does: tick, choose, confirm."""

from __future__ import annotations

import html
import re

from django.urls import reverse

from customers.models import CustomerEvent

LIST_URL = reverse("admin:customers_customer_changelist")


_FORM = re.compile(r'<form method="post" action="([^"]*)">(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def start(client, action: str, customers=(), *, url: str = LIST_URL, select_across=False, ids=None):
    """Post the change list's action form (the "Go" button): the first step."""
    return client.post(
        url,
        {
            "action": action,
            "index": "0",
            "select_across": "1" if select_across else "0",
            "_selected_action": ids if ids is not None else [c.pk for c in customers],
        },
    )


def hidden_fields(response) -> tuple[str, list[tuple[str, str]]]:
    """The confirmation form's target and hidden fields, as the browser would post them."""
    page = response.content.decode()
    match = _FORM.search(page)
    assert match, page
    fields = [
        (name, html.unescape(value))
        for name, value in _HIDDEN.findall(match.group(2))
        if name != "csrfmiddlewaretoken"
    ]
    return html.unescape(match.group(1)), fields


def confirm(client, page_response, follow: bool = True, **data):
    """Submit the confirmation page with ``data`` typed into its form."""
    url, fields = hidden_fields(page_response)
    payload: dict[str, list[str]] = {}
    for name, value in fields:
        payload.setdefault(name, []).append(value)
    payload.update({k: v if isinstance(v, list) else [v] for k, v in data.items()})
    return client.post(url, payload, follow=follow)


def run(client, action: str, customers=(), *, url: str = LIST_URL, select_across=False, **data):
    """Both steps; return the page shown after confirming (the list with its messages)."""
    page = start(client, action, customers, url=url, select_across=select_across)
    assert page.status_code == 200, page
    return confirm(client, page, **data)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def action_choices(client, url: str = LIST_URL) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["action_form"]
    return {value for value, _label in form.fields["action"].choices if value}


def events(kind: str) -> list[CustomerEvent]:
    return list(CustomerEvent.objects.filter(kind=kind).order_by("customer_ref"))
