"""Reads of the store's tags."""

from __future__ import annotations

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    IntegerField,
    OuterRef,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from customers.models import Tag, TaggedCustomer


def tags_for_sidebar(*, shown: int) -> list[tuple[int, str]]:
    """Return up to ``shown`` tags as (pk, name): by name if that is all, else the most used.

    Counting the uses reads every tag link (231 ms a page at 920,000 links), which is only
    worth it when some tags must be left out. One query either way: the uses are a
    correlated count that the database evaluates only when the store has more tags than that.
    """
    table = connection.ops.quote_name(Tag._meta.db_table)
    more = RawSQL(f"(SELECT COUNT(*) FROM {table}) > %s", (shown,), output_field=BooleanField())
    uses = (
        TaggedCustomer.objects.filter(tag=OuterRef("pk"))
        .order_by()
        .values("tag")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rank = Case(
        When(more, then=Coalesce(Subquery(uses, output_field=IntegerField()), 0)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return list(Tag.objects.order_by(rank.desc(), "name", "pk").values_list("pk", "name")[:shown])
