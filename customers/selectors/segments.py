"""Reading segments: who a segment holds now, how many, and what is wrong with a stored one."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from customers.models import Customer, Segment
from customers.selectors.filtersets import (
    conditions_clean,
    conditions_phrases,
    conditions_sentence,
    customers_matching,
)


def segment_problems(segment: Segment) -> list[str]:
    """Say what the FilterSet no longer accepts in a stored segment (a removed field, a value
    a condition now refuses); empty when the segment can be evaluated."""
    # Asked for by the count, the sentence and the warning of one row: checked once per
    # version of the conditions.
    key = json.dumps([segment.conditions, segment.any_of], sort_keys=True)
    cached = getattr(segment, "_problems", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    problems = []
    for conditions in (segment.conditions, *(alt for group in segment.any_of for alt in group)):
        try:
            conditions_clean(conditions)
        except ValidationError as error:
            problems.extend(error.messages)
    segment._problems = (key, problems)
    return problems


def segment_customers(
    *, segment: Segment, queryset: QuerySet[Customer] | None = None
) -> QuerySet[Customer]:
    """Return the customers ``segment`` holds now (evaluated afresh each time the queryset is).

    A segment with a condition the list no longer understands holds nobody: leaving that
    condition out would widen the segment, and an email would reach customers it never meant.
    """
    if segment_problems(segment):
        return (queryset if queryset is not None else Customer.objects.all()).none()
    matching = customers_matching(conditions=segment.conditions, queryset=queryset)
    for group in segment.any_of:
        # Each alternative is one uncorrelated IN (subquery): no per-row work at 1,000,000.
        alternatives = Q()
        for conditions in group:
            members = customers_matching(conditions=conditions).values("pk")
            alternatives |= Q(pk__in=members)
        matching = matching.filter(alternatives)
    return matching


def segment_sentence(segment: Segment) -> str:
    """The segment in words: its conditions, then each "any of" group in parentheses
    ("Total spent at least 100 and (tagged VIP or email at example.com)"); "" if it is broken."""
    if segment_problems(segment):
        return ""
    if not segment.any_of:
        return conditions_sentence(segment.conditions)
    phrases = [phrase for _name, phrase in conditions_phrases(segment.conditions)]
    for group in segment.any_of:
        alternatives = [_joined(_("%(conditions)s and %(condition)s"), alt) for alt in group]
        either = _join(_("%(conditions)s or %(condition)s"), alternatives)
        phrases.append(f"({either})" if len(alternatives) > 1 else either)
    return capfirst(_join(_("%(conditions)s and %(condition)s"), phrases))


def _joined(pattern: str, conditions: dict) -> str:
    return _join(pattern, [phrase for _name, phrase in conditions_phrases(conditions)])


def _join(pattern: str, phrases: list[str]) -> str:
    # The FilterSet's own way to chain phrases, so a translation reads the same everywhere.
    sentence = phrases[0]
    for phrase in phrases[1:]:
        sentence = pattern % {"conditions": sentence, "condition": phrase}
    return sentence


def segments_counts(segments: list[Segment]) -> dict[int, int]:
    """The number of customers each segment holds now: one COUNT per segment."""
    return {segment.pk: segment_customers(segment=segment).count() for segment in segments}


def customers_total() -> int:
    """The customers of the list as it opens (the default conditions): a segment's share of it."""
    return customers_matching(conditions={}).count()
