"""Reading segments: who a segment holds now, how many, and what is wrong with a stored one."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from customers.filtersets import conditions_clean, conditions_sentence, customers_matching
from customers.models import Customer, Segment


def segment_problems(segment: Segment) -> list[str]:
    """Say what the FilterSet no longer accepts in a stored segment (a removed field, a value
    a condition now refuses); empty when the segment can be evaluated."""
    problems = []
    for conditions in (segment.conditions, *(alt for group in segment.any_of for alt in group)):
        try:
            conditions_clean(conditions)
        except ValidationError as error:
            problems.extend(error.messages)
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
    """The segment's conditions in words, "any of" groups included; "" for no condition."""
    if segment_problems(segment):
        return ""
    parts = [conditions_sentence(segment.conditions)] if segment.conditions else []
    for group in segment.any_of:
        alternatives = [conditions_sentence(alt) for alt in group]
        parts.append("(" + _(" or ").join(alternatives) + ")" if len(group) > 1 else alternatives[0])
    return _(" and ").join(part for part in parts if part)


def segments_counts(segments: list[Segment]) -> dict[int, int]:
    """The number of customers each segment holds now: one COUNT per segment."""
    return {segment.pk: segment_customers(segment=segment).count() for segment in segments}


def customers_total() -> int:
    """The customers of the list as it opens (the default conditions): a segment's share of it."""
    return customers_matching(conditions={}).count()
