"""The conditions staff filter the customer list on: the ONE definition.

``CustomerFilterSet`` is shared by the admin list (its sidebar only renders it), select-all
selections and the jobs that rebuild them, the export and segments. A condition's name is the
list's own query parameter, so a segment is the list's query string stored as data::

    conditions = conditions_from_query("total_spent_min=100&tag_any=VIP")
    conditions_clean(conditions)      # ValidationError: "unknown_condition" / "invalid_condition"
    conditions_sentence(conditions)   # "Total spent at least 100 and tagged VIP"
    customers_matching(conditions=conditions)

Every filter reads through a ``CustomerQuerySet`` method or a selector: set-based, semi-joins
and GROUP BY, no correlated subquery per row.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.http import QueryDict
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_filters.fields import ChoiceField, RangeField
from django_filters.widgets import SuffixedMultiWidget

from customers.models import Channel, Consent, Customer, Status, Tag
from customers.selectors.duplicates import customers_with_possible_duplicates

SEARCH = "q"
# The change list's own parameters that are not conditions: paging, ordering, page size,
# the admin's "invalid filter" flag, facets, "show all", popups, the preserved filters and the
# keyset cursors of customers/admin/pagination.py (CURSOR_PARAMS).
NOT_CONDITIONS = frozenset(
    {"p", "o", "per_page", "_changelist_filters", "e", "_facets", "all", "_popup", "_to_field"}
    | {"after", "before"}
)
STATUS_ALL = "all"
YES, NO = "yes", "no"
TRUE, FALSE = "1", "0"

MAX_BELOW_MIN = _("The maximum is below the minimum.")
END_BEFORE_START = _("The end date is before the start date.")
UNKNOWN_CONDITION = _("“%(field)s” is not a condition of the customer list.")
INVALID_CONDITION = _("%(label)s: %(message)s")


# --- form fields: bounds that may be left empty, lists of tags -----------------------------


class _BoundsWidget(SuffixedMultiWidget):
    suffixes = ["min", "max"]

    def __init__(self, attrs=None):
        number = {"step": "any", "min": "0"}
        super().__init__([forms.NumberInput(attrs=number), forms.NumberInput(attrs=number)], attrs)


class _DateBoundsWidget(SuffixedMultiWidget):
    suffixes = ["from", "to"]

    def __init__(self, attrs=None):
        # A date input takes ISO dates whatever the language of the page.
        day = {"type": "date"}
        super().__init__(
            [forms.DateInput(day, format="%Y-%m-%d"), forms.DateInput(day, format="%Y-%m-%d")],
            attrs,
        )


class BoundsField(RangeField):
    """A minimum and/or a maximum, both inclusive; a maximum below the minimum is an error."""

    widget = _BoundsWidget
    below_message = MAX_BELOW_MIN

    def __init__(self, *args, inner: type[forms.Field] = forms.DecimalField, **kwargs):
        fields = (inner(min_value=0), inner(min_value=0))
        super().__init__(fields, *args, **kwargs)

    def compress(self, data_list):
        if not data_list or all(value is None for value in data_list):
            return None
        low, high = data_list
        if low is not None and high is not None and high < low:
            raise ValidationError(self.below_message, code="max_below_min")
        return slice(low, high)


class DateBoundsField(BoundsField):
    """From one day to another (either optional), whole days in the store's time zone."""

    widget = _DateBoundsWidget
    below_message = END_BEFORE_START

    def __init__(self, *args, **kwargs):
        forms.MultiValueField.__init__(
            self, (forms.DateField(), forms.DateField()), *args, **kwargs
        )


class _ListWidget(forms.TextInput):
    """Reads a parameter given several times (``?tag_any=1&tag_any=VIP``) or comma-separated."""

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else data.get(name)
        if values is None:
            return []
        if isinstance(values, str):
            values = [values]
        return [part.strip() for value in values for part in value.split(",") if part.strip()]

    def format_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value


class TagListField(forms.Field):
    widget = _ListWidget

    def to_python(self, value):
        values = (
            value
            if isinstance(value, list | tuple)
            else _ListWidget().value_from_datadict({"v": value or ""}, None, "v")
        )
        seen, unique = set(), []
        for item in values:
            if item.lower() not in seen:
                seen.add(item.lower())
                unique.append(item)
        return unique


def tags_resolve(values: list[str]) -> tuple[list[int], list[str]]:
    """Return the ids of the tags named (by id or case-insensitive name) and what is unknown."""
    ids = {int(value) for value in values if value.isdigit()}
    names = {value.lower() for value in values if not value.isdigit()}
    found = Tag.objects.annotate(key=Lower("name")).filter(Q(pk__in=ids) | Q(key__in=names))
    rows = list(found.values_list("pk", "key"))
    known_ids = {pk for pk, _key in rows}
    known_names = {key for _pk, key in rows}
    missing = [
        v
        for v in values
        if (int(v) not in known_ids if v.isdigit() else v.lower() not in known_names)
    ]
    return sorted(known_ids), missing


# --- filters --------------------------------------------------------------------------------


class BoundsFilter(django_filters.Filter):
    """``<name>_min`` / ``<name>_max`` on a summary column, through ``with_value_between``."""

    field_class = BoundsField

    def filter(self, qs, value):
        if value is None:
            return qs
        return qs.with_value_between(self.field_name, value.start, value.stop)


class DateBoundsFilter(BoundsFilter):
    field_class = DateBoundsField

    def filter(self, qs, value):
        if value is None:
            return qs
        start = None if value.start is None else _day_start(value.start)
        stop = None if value.stop is None else _day_start(value.stop + datetime.timedelta(days=1))
        qs = qs.with_value_between(self.field_name, start, None)
        # Up to the end of the last day: before the start of the next one.
        return qs if stop is None else qs.filter(**{f"{self.field_name}__lt": stop})


def _day_start(day: datetime.date) -> datetime.datetime:
    """Midnight starting ``day`` in the store's time zone."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class StatusFilter(django_filters.ChoiceFilter):
    """Status; without one, the list's default: neither archived nor merged.

    The FilterSet calls every filter with its cleaned value, empty ones included: this one
    does not skip an empty value, so the default applies when the parameter is absent.
    """

    def filter(self, qs, value):
        if not value:
            return qs.listed_by_default()
        if value == STATUS_ALL:
            return qs
        return qs.filter(status=value)


class YesNoFilter(django_filters.ChoiceFilter):
    """A boolean field as the admin's own list filter writes it (``1`` / ``0``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [(TRUE, _("Yes")), (FALSE, _("No"))])
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(**{self.field_name: value == TRUE})


class TagsFilter(django_filters.Filter):
    """Tags by id or name: ``any`` of them, ``all`` of them or ``none`` of them."""

    field_class = TagListField

    def __init__(self, *args, match: str, **kwargs):
        self.match = match
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        ids, missing = tags_resolve(value)
        if self.match == "none":
            return qs.without_tags(ids) if ids else qs
        if self.match == "all":
            return qs.with_tags_all(ids) if ids and not missing else qs.none()
        return qs.with_tags_any(ids) if ids else qs.none()


def _segment_choices():
    from customers.models import Segment

    return [(str(pk), name) for pk, name in Segment.objects.values_list("pk", "name")]


class SegmentIdField(ChoiceField):
    """A segment's id. Checked as an id, not against the list of every segment: the list view
    validates its conditions four times a page (the message check, the queryset, the sidebar),
    and ``SegmentFilter.filter`` reads the one segment asked for anyway."""

    def valid_value(self, value) -> bool:
        return str(value).isdigit()


class SegmentFilter(django_filters.ChoiceFilter):
    """A saved segment by id (``?segment=ID``): its conditions, evaluated now.

    Described as "Segment: VIP big spenders". Behind a request, a segment the user may not see
    (someone else's unshared one) selects nobody.
    """

    field_class = SegmentIdField

    def __init__(self, *args, **kwargs):
        # A hidden input: a sidebar never lists every segment's name.
        # Lazy: the segments are read only when a ``segment`` value is checked or described.
        from django.utils.choices import CallableChoiceIterator

        choices = CallableChoiceIterator(_segment_choices)
        kwargs.update(choices=choices, widget=forms.HiddenInput)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        from customers.models import Segment
        from customers.selectors.segments import segment_customers

        if not value:
            return qs
        request = getattr(self.parent, "request", None)
        segments = Segment.objects.visible_to_request(request)
        segment = segments.filter(pk=value).first()
        return qs.none() if segment is None else segment_customers(segment=segment, queryset=qs)


PREVIOUS_SPENT_NONE = "none"
PREVIOUS_SPENT_RANGES = {"0-100": (0, 100), "100-1000": (100, 1000), "1000+": (1000, None)}
ORDER_BUCKETS = {"0": (0, 0), "1": (1, 1), "2-5": (2, 5), "6+": (6, None)}


class CustomerFilterSet(django_filters.FilterSet):
    """Every condition of the customer list; each filter's name is its query parameter."""

    # Money and orders (the order summary, in the store's currency).
    total_spent = BoundsFilter(field_name="total_spent", label=_("total spent"))
    order_count = BoundsFilter(
        field_name="order_count", label=_("number of orders"), inner=forms.IntegerField
    )
    average_order = BoundsFilter(field_name="average_order_value", label=_("average order"))
    # Dates.
    created = DateBoundsFilter(field_name="created_at", label=_("created"))
    last_order = DateBoundsFilter(field_name="last_order_at", label=_("last order"))
    email_consent_changed = DateBoundsFilter(
        field_name="email_consent_updated_at", label=_("email marketing changed")
    )
    sms_consent_changed = DateBoundsFilter(
        field_name="sms_consent_updated_at", label=_("SMS marketing changed")
    )
    birthday_within = IntegerFilter(
        method="filter_birthday",
        label=_("birthday within (days)"),
        min_value=0,
        max_value=366,
    )
    # The default address.
    country = django_filters.CharFilter(method="filter_address", label=_("country"), max_length=2)
    province = django_filters.CharFilter(
        method="filter_address", label=_("state / province"), max_length=10
    )
    city = django_filters.CharFilter(method="filter_address", label=_("city"), max_length=120)
    # Contact details.
    email_domain = django_filters.CharFilter(
        method="filter_email_domain", label=_("email domain"), max_length=253
    )
    no_email = django_filters.ChoiceFilter(
        method="filter_no_email", label=_("has no email"), choices=[(YES, _("Yes"))]
    )
    no_phone = django_filters.ChoiceFilter(
        method="filter_no_phone", label=_("has no phone"), choices=[(YES, _("Yes"))]
    )
    # Tags.
    tag = django_filters.CharFilter(method="filter_tag", label=_("tag"))
    tag_any = TagsFilter(match="any", label=_("tagged any of"))
    tag_all = TagsFilter(match="all", label=_("tagged all of"))
    tag_none = TagsFilter(match="none", label=_("tagged none of"))
    # The account.
    status = StatusFilter(
        choices=[*Status.choices, (STATUS_ALL, _("All, including merged"))], label=_("status")
    )
    group__id__exact = IntegerFilter(field_name="group_id", label=_("group"))
    group__isnull = django_filters.ChoiceFilter(
        method="filter_no_group", label=_("group"), choices=[("True", _("None"))]
    )
    tax_exempt__exact = YesNoFilter(field_name="tax_exempt", label=_("tax exempt"))
    email_consent__exact = django_filters.ChoiceFilter(
        field_name="email_consent", choices=Consent.choices, label=_("email marketing")
    )
    sms_consent__exact = django_filters.ChoiceFilter(
        field_name="sms_consent", choices=Consent.choices, label=_("SMS marketing")
    )
    source__exact = django_filters.ChoiceFilter(
        field_name="source", choices=Channel.choices, label=_("source channel")
    )
    has_active_subscription__exact = YesNoFilter(
        field_name="has_active_subscription", label=_("active subscription")
    )
    erasure = django_filters.ChoiceFilter(
        method="filter_erasure",
        label=_("erasure requested"),
        choices=[(YES, _("Yes")), (NO, _("No"))],
    )
    previous_spent = django_filters.ChoiceFilter(
        method="filter_previous_spent",
        label=_("previous platform total spent"),
        choices=[
            (PREVIOUS_SPENT_NONE, _("Not recorded")),
            ("0-100", _("Under 100")),
            ("100-1000", _("100 to 1,000")),
            ("1000+", _("1,000 or more")),
        ],
    )
    # The sidebar's quick buckets of the order count (the range above takes any bounds).
    orders = django_filters.ChoiceFilter(
        method="filter_order_bucket",
        label=_("number of orders"),
        choices=[("0", _("None")), ("1", "1"), ("2-5", "2–5"), ("6+", _("6 or more"))],
    )
    duplicates = django_filters.ChoiceFilter(
        method="filter_duplicates",
        label=_("possible duplicates"),
        choices=[(YES, _("Has possible duplicates"))],
    )
    q = django_filters.CharFilter(method="filter_search", label=_("search"))
    # Task B (segments) adds its one filter here: ``segment``.
    # Capitalised: described as "Segment: VIP big spenders" wherever it is used.
    segment = SegmentFilter(label=_("Segment"))

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_birthday(self, queryset, name, value):
        return queryset.with_birthday_within(int(value), timezone.localdate())

    def filter_address(self, queryset, name, value):
        part = {"country": "country_code", "province": "province_code", "city": "city"}[name]
        return queryset.with_default_address(**{part: value.strip()})

    def filter_email_domain(self, queryset, name, value):
        return queryset.with_email_domain(value.strip())

    def filter_no_email(self, queryset, name, value):
        return queryset.without_email()

    def filter_no_phone(self, queryset, name, value):
        return queryset.without_phone()

    def filter_tag(self, queryset, name, value):
        ids, _missing = tags_resolve([value.strip()])
        return queryset.with_tags_any(ids) if ids else queryset.none()

    def filter_no_group(self, queryset, name, value):
        return queryset.filter(group__isnull=True)

    def filter_erasure(self, queryset, name, value):
        return queryset.erasure_pending() if value == YES else queryset.erasure_not_pending()

    def filter_previous_spent(self, queryset, name, value):
        if value == PREVIOUS_SPENT_NONE:
            return queryset.filter(previous_total_spent__isnull=True)
        return queryset.with_previous_spent_between(*PREVIOUS_SPENT_RANGES[value])

    def filter_order_bucket(self, queryset, name, value):
        return queryset.with_order_counts_between(*ORDER_BUCKETS[value])

    def filter_duplicates(self, queryset, name, value):
        return customers_with_possible_duplicates(queryset)

    def filter_search(self, queryset, name, value):
        # The list's search is the admin's (exact email/phone first, then names and phones);
        # reading it from there keeps one definition of what a search finds.
        from django.contrib import admin

        modeladmin = admin.site.get_model_admin(Customer)
        return modeladmin.get_search_results(None, queryset, value.strip())[0]


# --- the contract shared with segments, exports and jobs -----------------------------------


def condition_parameters() -> dict[str, str]:
    """Every query parameter a condition reads, mapped to its filter's name."""
    return dict(_condition_parameters())


@functools.cache
def _condition_parameters() -> dict[str, str]:
    # The FilterSet's declared fields never change in a process: building its form to read
    # them cost a list page three times 3-10 ms.
    form = CustomerFilterSet().form
    names = {}
    for name, field in form.fields.items():
        suffixes = getattr(field.widget, "suffixes", None)
        if suffixes:
            names.update({f"{name}_{suffix}": name for suffix in suffixes})
        else:
            names[name] = name
    return names


def conditions_from_query(query_string_or_querydict) -> dict:
    """The list's query parameters that are conditions (not paging, ordering or page size).

    A parameter given once is a string, given several times a list of strings; empty ones
    are dropped.
    """
    query = query_string_or_querydict
    if isinstance(query, str):
        query = QueryDict(query.lstrip("?"))
    conditions: dict[str, str | list[str]] = {}
    for key in query:
        if key in NOT_CONDITIONS:
            continue
        values = query.getlist(key) if hasattr(query, "getlist") else [query[key]]
        values = [
            value for value in (values if isinstance(values, list) else [values]) if value != ""
        ]
        if values:
            conditions[key] = values[0] if len(values) == 1 else values
    return conditions


def _querydict(conditions: Mapping) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in conditions.items():
        data.setlist(
            key, [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
        )
    return data


def customer_filterset(
    conditions: Mapping, queryset: QuerySet | None = None, *, request=None
) -> CustomerFilterSet:
    """The bound FilterSet of these conditions (unvalidated).

    Behind a request, conditions that depend on who asks (a segment someone else keeps to
    themselves) are read as that user; without one (a job, a command) they are not restricted.
    """
    base = Customer.objects.all() if queryset is None else queryset
    return CustomerFilterSet(_querydict(conditions), queryset=base, request=request)


REQUEST_FILTERSET = "_customer_filterset"


def request_filterset(request) -> CustomerFilterSet:
    """The bound FilterSet of the conditions in ``request.GET``, built once per request.

    A list page built six (the message check, the rows, the sidebar's form and its words, the
    choices of two quick filters), each copying every filter and building a form of them.
    Built again when ``request.GET`` is replaced (the list drops the conditions it cannot read).
    Its ``qs`` is of every customer: filter another queryset with :func:`conditions_apply`.
    """
    kept = getattr(request, REQUEST_FILTERSET, None)
    if kept is not None and kept[0] is request.GET:
        return kept[1]
    filterset = customer_filterset(conditions_from_query(request.GET), request=request)
    setattr(request, REQUEST_FILTERSET, (request.GET, filterset))
    return filterset


def conditions_apply(filterset: CustomerFilterSet, queryset: QuerySet, *, without=()) -> QuerySet:
    """``queryset`` filtered by the FilterSet's conditions, except the filters named ``without``.

    The FilterSet must be valid (``conditions_errors`` empty).
    """
    for name, value in filterset.form.cleaned_data.items():
        if name not in without:
            queryset = filterset.filters[name].filter(queryset, value)
    return queryset


def conditions_errors(filterset: CustomerFilterSet) -> list[ValidationError]:
    """Each invalid condition as one error naming its field: "Total spent: Enter a number."."""
    errors = []
    for name, messages in filterset.errors.items():
        label = capfirst(str(filterset.filters[name].label)) if name in filterset.filters else name
        for message in messages:
            errors.append(
                ValidationError(
                    INVALID_CONDITION,
                    code="invalid_condition",
                    params={"label": label, "message": message, "field": name},
                )
            )
    return errors


def conditions_clean(conditions: dict[str, str | list[str]]) -> dict:
    """Validate conditions; return them normalised (stripped, empty dropped, known names only).

    Raises ``ValidationError`` with code ``unknown_condition`` for a parameter no filter reads
    (a condition on a removed field) and ``invalid_condition`` for a value a filter refuses;
    ``params["field"]`` names the condition.
    """
    known = condition_parameters()
    cleaned: dict[str, str | list[str]] = {}
    for key, value in conditions.items():
        if key not in known:
            raise ValidationError(
                UNKNOWN_CONDITION, code="unknown_condition", params={"field": key}
            )
        values = [str(v).strip() for v in (value if isinstance(value, list | tuple) else [value])]
        values = [v for v in values if v]
        if values:
            cleaned[key] = values[0] if len(values) == 1 else values
    errors = conditions_errors(customer_filterset(cleaned))
    if errors:
        raise errors[0]
    return cleaned


def customers_matching(*, conditions: dict, queryset: QuerySet | None = None) -> QuerySet:
    """The customers these conditions select (search term ``conditions["q"]``) among ``queryset``.

    Without a status condition, the list's default applies (neither archived nor merged).
    Raises ``ValidationError`` (``invalid_condition``) for an invalid condition.
    """
    filterset = customer_filterset(conditions, queryset)
    errors = conditions_errors(filterset)
    if errors:
        raise errors[0]
    return filterset.qs


# --- conditions in words ----------------------------------------------------------------


def _amount(value) -> str:
    return number_format(value, use_l10n=True)


def _bounds_phrase(label: str, value: slice, show=_amount) -> str:
    low, high = value.start, value.stop
    if low is not None and high is not None:
        return gettext("%(label)s between %(low)s and %(high)s") % {
            "label": label,
            "low": show(low),
            "high": show(high),
        }
    if low is not None:
        return gettext("%(label)s at least %(low)s") % {"label": label, "low": show(low)}
    return gettext("%(label)s at most %(high)s") % {"label": label, "high": show(high)}


def _dates_phrase(label: str, value: slice) -> str:
    def day(value) -> str:
        return date_format(value, "DATE_FORMAT")

    low, high = value.start, value.stop
    if low is not None and high is not None:
        return gettext("%(label)s from %(low)s to %(high)s") % {
            "label": label,
            "low": day(low),
            "high": day(high),
        }
    if low is not None:
        return gettext("%(label)s on or after %(low)s") % {"label": label, "low": day(low)}
    return gettext("%(label)s on or before %(high)s") % {"label": label, "high": day(high)}


CONSENT_PHRASES = {
    ("email", Consent.SUBSCRIBED): _("subscribed to email"),
    ("email", Consent.NOT_SUBSCRIBED): _("not subscribed to email"),
    ("email", Consent.UNSUBSCRIBED): _("unsubscribed from email"),
    ("sms", Consent.SUBSCRIBED): _("subscribed to SMS"),
    ("sms", Consent.NOT_SUBSCRIBED): _("not subscribed to SMS"),
    ("sms", Consent.UNSUBSCRIBED): _("unsubscribed from SMS"),
}


def _choice_label(filterset: CustomerFilterSet, name: str, value) -> str:
    return str(dict(filterset.filters[name].extra["choices"]).get(value, value))


def _phrase(filterset: CustomerFilterSet, name: str, value) -> str | None:
    """One condition in words, or None for a condition that says nothing (the default)."""
    label = str(filterset.filters[name].label)
    if isinstance(filterset.filters[name], DateBoundsFilter):
        return _dates_phrase(label, value)
    if isinstance(filterset.filters[name], BoundsFilter):
        return _bounds_phrase(label, value)
    if name in ("tag_any", "tag_all", "tag_none", "tag"):
        values = value if isinstance(value, list) else [value]
        names = _tag_names(values)
        key = {"tag": "tag_any"}.get(name, name)
        text = {
            "tag_any": gettext("tagged %(tags)s")
            if len(names) == 1
            else gettext("tagged any of %(tags)s"),
            "tag_all": gettext("tagged all of %(tags)s"),
            "tag_none": gettext("not tagged %(tags)s"),
        }[key]
        return text % {"tags": ", ".join(names)}
    phrases = {
        "birthday_within": lambda: (
            ngettext(
                "birthday within the next %(days)s day",
                "birthday within the next %(days)s days",
                int(value),
            )
            % {"days": value}
        ),
        "country": lambda: (
            gettext("default address in country %(value)s") % {"value": value.upper()}
        ),
        "province": lambda: (
            gettext("default address in state / province %(value)s") % {"value": value.upper()}
        ),
        "city": lambda: gettext("default address in %(value)s") % {"value": value},
        "email_domain": lambda: (
            gettext("email at %(value)s") % {"value": value.lstrip("@").lower()}
        ),
        "no_email": lambda: gettext("has no email"),
        "no_phone": lambda: gettext("has no phone"),
        "status": lambda: (
            gettext("status %(value)s") % {"value": _choice_label(filterset, name, value)}
        ),
        "group__id__exact": lambda: gettext("in group %(value)s") % {"value": _group_name(value)},
        "group__isnull": lambda: gettext("in no group"),
        "tax_exempt__exact": lambda: (
            gettext("tax exempt") if value == TRUE else gettext("not tax exempt")
        ),
        "email_consent__exact": lambda: str(CONSENT_PHRASES[("email", value)]),
        "sms_consent__exact": lambda: str(CONSENT_PHRASES[("sms", value)]),
        "source__exact": lambda: (
            gettext("from %(value)s") % {"value": _choice_label(filterset, name, value)}
        ),
        "has_active_subscription__exact": lambda: (
            gettext("with an active subscription")
            if value == TRUE
            else gettext("without an active subscription")
        ),
        "erasure": lambda: (
            gettext("erasure requested") if value == YES else gettext("no erasure requested")
        ),
        "q": lambda: gettext("matching “%(value)s”") % {"value": value},
    }
    if name in phrases:
        return phrases[name]()
    return f"{label}: {_choice_label(filterset, name, value)}"


def _tag_names(values: list[str]) -> list[str]:
    ids = [int(v) for v in values if v.isdigit()]
    names = dict(Tag.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    return [names.get(int(v), v) if v.isdigit() else v for v in values]


def _group_name(value) -> str:
    from groups.models import CustomerGroup

    group = CustomerGroup.objects.filter(pk=value).values_list("name", flat=True).first()
    return group or str(value)


def conditions_phrases(conditions: dict) -> list[tuple[str, str]]:
    """Each valid condition as (filter name, phrase), in the FilterSet's order."""
    filterset = customer_filterset(conditions)
    if not filterset.is_valid():
        return []
    return filterset_phrases(filterset)


def filterset_phrases(filterset: CustomerFilterSet, names=None) -> list[tuple[str, str]]:
    """The valid conditions of a bound FilterSet (only the filters ``names``, if given) in words."""
    filterset.is_valid()
    phrases = []
    for name, value in filterset.form.cleaned_data.items():
        if value in (None, "", [], ()) or (names is not None and name not in names):
            continue
        phrase = _phrase(filterset, name, value)
        if phrase:
            phrases.append((name, phrase))
    return phrases


def conditions_sentence(conditions: dict) -> str:
    """The conditions as one sentence: "Total spent at least 100 and tagged VIP and ..."."""
    phrases = [phrase for _name, phrase in conditions_phrases(conditions)]
    if not phrases:
        return gettext("All current customers")
    sentence = phrases[0]
    for phrase in phrases[1:]:
        sentence = gettext("%(conditions)s and %(condition)s") % {
            "conditions": sentence,
            "condition": phrase,
        }
    return capfirst(sentence)
