"""Business rules of customer groups."""

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.exceptions import ValidationError

from groups.models import CustomerGroup
from groups.services import GROUP_NAME_EMPTY, group_get_or_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_name_is_refused_with_its_code_on_the_name_field(superuser, name):
    with pytest.raises(ValidationError) as excinfo:
        group_get_or_create(actor=superuser, name=name)
    errors = excinfo.value.error_dict["name"]
    assert [(e.message, e.code) for e in errors] == [(GROUP_NAME_EMPTY, "group_name_empty")]
    assert not CustomerGroup.objects.exists()


def test_existing_name_is_found_case_insensitively_and_creation_is_logged(superuser):
    group, created = group_get_or_create(actor=superuser, name=" Wholesale ")
    assert (group.name, created) == ("Wholesale", True)
    again, created_again = group_get_or_create(actor="import_customers", name="WHOLESALE")
    assert (again.pk, created_again) == (group.pk, False)
    entries = list(LogEntry.objects.values_list("user_id", "object_id", "action_flag"))
    assert entries == [(superuser.pk, str(group.pk), ADDITION)]
