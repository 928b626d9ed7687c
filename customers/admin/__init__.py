"""The back office's customer admin: registration of each model with its admin.

One module per page or action family; ``customer.py`` wires them into CustomerAdmin.
"""

from django.contrib import admin
from taggit.models import Tag as TaggitTag

from customers.admin import channels  # noqa: F401 - registers the channel admins
from customers.admin.customer import CustomerAdmin
from customers.admin.events import CustomerEventAdmin
from customers.admin.groups import CustomerGroupWithMembersAdmin
from customers.admin.orders import OrderAdmin
from customers.admin.segments import SegmentAdmin
from customers.admin.tags import TagAdmin
from customers.models import Customer, CustomerEvent, Order, Segment, Tag
from groups.models import CustomerGroup

# Our Tag model replaces taggit's; its own admin would show a second, always empty tag list.
if admin.site.is_registered(TaggitTag):
    admin.site.unregister(TaggitTag)

admin.site.register(Customer, CustomerAdmin)
admin.site.register(Order, OrderAdmin)
admin.site.register(Tag, TagAdmin)
admin.site.register(CustomerEvent, CustomerEventAdmin)
admin.site.register(Segment, SegmentAdmin)
admin.site.unregister(CustomerGroup)
admin.site.register(CustomerGroup, CustomerGroupWithMembersAdmin)

__all__ = [
    "CustomerAdmin",
    "CustomerEventAdmin",
    "CustomerGroupWithMembersAdmin",
    "OrderAdmin",
    "SegmentAdmin",
    "TagAdmin",
]
