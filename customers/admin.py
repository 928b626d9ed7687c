"""Admin of customers, orders, tags and the audit trail: thin adapters over services and reads."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from taggit.models import Tag as TaggitTag

from customers.admin_bulk import BULK_ACTIONS, CustomerBulkActionsMixin
from customers.admin_importexport import CustomerImportExportMixin
from customers.admin_merge import CustomerMergeAdminMixin
from customers.admin_privacy import CustomerPrivacyAdminMixin, CustomerVersionFormMixin
from customers.filters import ErasureRequestedFilter, OrderCountFilter, StatusFilter, TagFilter
from customers.models import (
    PHONE_INVALID,
    Address,
    Customer,
    CustomerEvent,
    Note,
    Order,
    Status,
    Tag,
)
from customers.personal_data import ADDRESS_PERSONAL_FIELDS
from customers.phones import (
    phone_display,
    phone_search_candidates,
    phone_search_digits,
    phone_to_e164,
)
from groups.admin import CustomerGroupAdmin
from groups.models import CustomerGroup

# Our Tag model replaces taggit's; its own admin would show a second, always empty tag list.
if admin.site.is_registered(TaggitTag):
    admin.site.unregister(TaggitTag)

PAGE_SIZES = (10, 20, 50, 100, 200, 500)
PAGE_SIZE_PARAM = "per_page"
ONE_DEFAULT_ADDRESS = _("Mark only one address as the default.")


class CustomerChangeList(ChangeList):
    """Change list whose page size the user chooses with ?per_page=."""

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(PAGE_SIZE_PARAM, None)
        return lookup_params

    def get_results(self, request):
        raw = request.GET.get(PAGE_SIZE_PARAM, "")
        if raw.isdigit() and int(raw) in PAGE_SIZES:
            self.list_per_page = int(raw)
        super().get_results(request)

    def page_size_links(self):
        return [
            (
                size,
                self.get_query_string({PAGE_SIZE_PARAM: size}, remove=["p"]),
                size == self.list_per_page,
            )
            for size in PAGE_SIZES
        ]


class CustomerAdminForm(CustomerVersionFormMixin, forms.ModelForm):
    """Read the customer's phone with the country of its default address, as a clerk would."""

    class Meta:
        model = Customer
        # The admin's fieldsets choose what is shown; read-only fields are left out of the form.
        fields = "__all__"  # noqa: DJ007

    def _get_validation_exclusions(self):
        # The database constraints on email read status and merged_into, which are read-only
        # here; Django skips a constraint whose fields are excluded, so keep them in.
        exclude = super()._get_validation_exclusions()
        exclude.difference_update({"status", "merged_into"})
        return exclude

    def phone_region(self) -> str:
        total = self.data.get("addresses-TOTAL_FORMS", "0")
        for index in range(int(total) if total.isdigit() else 0):
            prefix = f"addresses-{index}-"
            if self.data.get(prefix + "is_default") and not self.data.get(prefix + "DELETE"):
                country = self.data.get(prefix + "country_code", "").strip()
                if country:
                    return country
        if self.instance.pk:
            default = self.instance.addresses.filter(is_default=True).first()
            if default and default.country_code:
                return default.country_code
        return ""

    def clean_phone(self):
        raw = (self.cleaned_data.get("phone") or "").strip()
        if not raw:
            return raw
        e164 = phone_to_e164(raw, self.phone_region())
        if e164 is None:
            raise ValidationError(PHONE_INVALID, code="phone_invalid", params={"value": raw})
        return e164


class AddressFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        defaults = [
            form
            for form in self.forms
            if form.cleaned_data.get("is_default") and not form.cleaned_data.get("DELETE")
        ]
        if len(defaults) > 1:
            raise ValidationError(ONE_DEFAULT_ADDRESS, code="one_default_address")


class AddressInline(admin.StackedInline):
    model = Address
    formset = AddressFormSet
    extra = 0
    fields = ["is_default", *ADDRESS_PERSONAL_FIELDS]


class NoteInline(admin.TabularInline):
    model = Note
    extra = 1
    fields = ["body", "author", "created_at"]
    readonly_fields = ["author", "created_at"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "body":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 2, "cols": 80})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(Customer)
class CustomerAdmin(
    CustomerImportExportMixin,
    CustomerMergeAdminMixin,
    CustomerPrivacyAdminMixin,
    CustomerBulkActionsMixin,
    admin.ModelAdmin,
):
    form = CustomerAdminForm
    actions = [
        *BULK_ACTIONS,
        "merge_selected",
        "export_selected",
        "request_erasure",
        "cancel_erasure",
    ]
    list_display = [
        "display_name",
        "email",
        "phone_formatted",
        "group",
        "tag_list",
        "order_count",
        "status_and_erasure",
    ]
    list_display_links = ["display_name", "email"]
    list_select_related = ["group"]
    list_per_page = 100
    list_max_show_all = 500
    list_filter = [
        "group",
        TagFilter,
        "tax_exempt",
        "email_consent",
        "sms_consent",
        OrderCountFilter,
        StatusFilter,
        "source",
        ErasureRequestedFilter,
        "has_active_subscription",
    ]
    search_fields = ["first_name", "last_name", "email", "company", "username"]
    search_help_text = _("Name, email, company, username or phone in any format.")
    ordering = ["-created_at", "-pk"]
    inlines = [AddressInline, NoteInline]
    readonly_fields = [
        "status",
        "merged_into",
        "erasure_requested_at",
        "erasure_requested_by",
        "email_consent_updated_at",
        "email_consent_source",
        "sms_consent_updated_at",
        "sms_consent_source",
        "created_at",
        "updated_at",
        "version",
        "order_summary",
        "order_history",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("first_name", "last_name"),
                    "email",
                    "phone",
                    "date_of_birth",
                    "company",
                    "username",
                    "group",
                    "tags",
                ]
            },
        ),
        (
            _("Marketing consent"),
            {
                "fields": [
                    ("email_consent", "email_consent_updated_at", "email_consent_source"),
                    ("sms_consent", "sms_consent_updated_at", "sms_consent_source"),
                ]
            },
        ),
        (
            _("Account"),
            {
                "fields": [
                    "tax_exempt",
                    "source",
                    "status",
                    "merged_into",
                    "has_active_subscription",
                    ("erasure_requested_at", "erasure_requested_by"),
                    ("created_at", "updated_at"),
                    "version",
                ]
            },
        ),
        (_("Order history"), {"fields": ["order_summary", "order_history"]}),
    ]
    autocomplete_fields = ["group"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # The channel a customer came from decides what a CSV may update (IMPORT_POLICY.md):
        # it is set when the customer is created, never edited afterwards.
        return [*fields, "source"] if obj is not None else fields

    def get_changelist(self, request, **kwargs):
        return CustomerChangeList

    def get_queryset(self, request):
        return super().get_queryset(request).with_order_counts().prefetch_related("tags")

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        phones = phone_search_candidates(search_term)
        digits = phone_search_digits(search_term)
        if phones or digits:
            # A full number in any format, or a fragment of its digits (E.164 has no punctuation).
            results = results | queryset.filter(Q(phone__in=phones) | Q(phone__contains=digits))
        return results, may_have_duplicates

    @admin.display(description=_("name"), ordering="last_name")
    def display_name(self, obj):
        return obj.full_name or "—"

    @admin.display(description=_("phone"), ordering="phone")
    def phone_formatted(self, obj):
        return phone_display(obj.phone)

    @admin.display(description=_("tags"))
    def tag_list(self, obj):
        return ", ".join(sorted((tag.name for tag in obj.tags.all()), key=str.lower))

    @admin.display(description=_("orders"), ordering="order_count")
    def order_count(self, obj):
        return obj.order_count

    @admin.display(description=_("totals"))
    def order_summary(self, obj):
        if obj.pk is None:
            return "—"
        totals = Order.objects.totals_for(obj)
        spent = (
            ", ".join(
                f"{number_format(amount, decimal_pos=2)} {currency}"
                for currency, amount in totals["spent"]
            )
            or "0"
        )
        last = totals["last"].strftime("%Y-%m-%d") if totals["last"] else "—"
        return format_html(
            "{}: {} · {}: {} · {}: {}",
            _("Orders"),
            totals["count"],
            _("Total spent"),
            spent,
            _("Last order"),
            last,
        )

    @admin.display(description=_("latest orders"))
    def order_history(self, obj):
        if obj.pk is None:
            return "—"
        orders = list(obj.orders.order_by("-placed_at", "-pk")[:20])
        if not orders:
            return _("No orders.")
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{} {}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:customers_order_change", args=[o.pk]),
                    o.number,
                    o.placed_at.strftime("%Y-%m-%d %H:%M"),
                    o.total,
                    o.currency,
                    o.get_source_display(),
                )
                for o in orders
            ),
        )
        all_url = reverse("admin:customers_order_changelist") + f"?customer__id__exact={obj.pk}"
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            '<tbody>{}</tbody></table><p><a href="{}">{}</a></p>',
            _("Number"),
            _("Placed"),
            _("Total"),
            _("Channel"),
            rows,
            all_url,
            _("All orders of this customer"),
        )


class ReadOnlyAdminMixin:
    """Viewable, never added, changed or deleted through the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Order history is read-only: it comes from the sales channels."""

    list_display = ["number", "customer_link", "placed_at", "total", "currency", "source"]
    list_filter = ["source", "currency"]
    search_fields = ["number", "customer__email", "customer__last_name"]
    list_select_related = ["customer"]
    date_hierarchy = "placed_at"
    fields = [
        "number",
        "customer_link",
        "placed_at",
        "total",
        "currency",
        "source",
        "shipping_address",
        "tag_names",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    @admin.display(description=_("customer"), ordering="customer__last_name")
    def customer_link(self, obj):
        if obj.customer_id is None:
            return "—"
        url = reverse("admin:customers_customer_change", args=[obj.customer_id])
        return format_html('<a href="{}">{}</a>', url, obj.customer)

    @admin.display(description=_("tags"))
    def tag_names(self, obj):
        return ", ".join(tag.name for tag in obj.tags.all())


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    ordering = ["name"]
    fields = ["name"]


@admin.register(CustomerEvent)
class CustomerEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit trail, read-only."""

    list_display = ["created_at", "kind", "customer_ref", "actor_label"]
    list_filter = ["kind"]
    search_fields = ["=customer_ref", "actor_label"]
    readonly_fields = [
        "created_at",
        "kind",
        "customer",
        "customer_ref",
        "actor",
        "actor_label",
        "data",
    ]
    date_hierarchy = "created_at"


class CustomerGroupWithMembersAdmin(CustomerGroupAdmin):
    """The groups admin with what only the customers app knows: who the members are."""

    list_display = [*CustomerGroupAdmin.list_display, "member_count", "members_link"]

    def get_queryset(self, request):
        # Merged records are not members any more.
        members = Count("customers", filter=~Q(customers__status=Status.MERGED))
        return super().get_queryset(request).annotate(member_total=members)

    @admin.display(description=_("members"), ordering="member_total")
    def member_count(self, obj):
        return obj.member_total

    @admin.display(description=_("customer list"))
    def members_link(self, obj):
        url = reverse("admin:customers_customer_changelist") + f"?group__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Show members"))


admin.site.unregister(CustomerGroup)
admin.site.register(CustomerGroup, CustomerGroupWithMembersAdmin)
