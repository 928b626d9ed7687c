"""The list's tag sidebar: every tag by name when few, the most used when many, one query."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Tag, TaggedCustomer
from customers.selectors.tags import tags_for_sidebar


def _link(customers, tag, count):
    TaggedCustomer.objects.bulk_create(
        TaggedCustomer(content_object=c, tag=tag) for c in customers[:count]
    )


def test_few_tags_are_all_listed_by_name_without_counting_their_links(db, make_customer):
    customers = [make_customer(email=f"s{i}@example.com") for i in range(3)]
    zebra = Tag.objects.create(name="zebra", slug="zebra")
    Tag.objects.create(name="apple", slug="apple")
    _link(customers, zebra, 3)
    with CaptureQueriesContext(connection) as queries:
        listed = tags_for_sidebar(shown=2)
    assert [name for _, name in listed] == ["apple", "zebra"]
    assert len(queries) == 1
    # The count of uses is in the SQL, but inside a CASE the database does not enter.
    assert "GROUP BY" in queries[0]["sql"] and "CASE WHEN" in queries[0]["sql"]


def test_more_tags_than_shown_lists_the_most_used_first(db, make_customer):
    customers = [make_customer(email=f"m{i}@example.com") for i in range(3)]
    tags = [Tag.objects.create(name=f"t{i}", slug=f"t{i}") for i in range(4)]
    _link(customers, tags[3], 3)
    _link(customers, tags[2], 1)
    listed = tags_for_sidebar(shown=3)
    assert [name for _, name in listed] == ["t3", "t2", "t0"]
    assert tags_for_sidebar(shown=4)[0][1] == "t0"
