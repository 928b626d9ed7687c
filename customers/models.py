"""Customer records, their addresses, notes, tags, order history and audit trail."""

from __future__ import annotations

import calendar
import datetime
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, DecimalField, Max, OuterRef, Q, Sum, Value
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from taggit.managers import TaggableManager
from taggit.models import ItemBase, TagBase

from customers.address_keys import address_key_expression
from customers.addresses import military_address_errors, military_normalise
from customers.phones import phone_display, phone_region, phone_to_e164

EMAIL_OR_PHONE_REQUIRED = _("A customer needs an email address or a phone number.")
PHONE_INVALID = _("%(value)s is not a valid phone number.")
EMAIL_TAKEN = _("Another customer already uses this email address.")


class Channel(models.TextChoices):
    MANUAL = "manual", _("Entered by hand")
    CSV = "csv", _("CSV import")
    SHOPIFY = "shopify", _("Shopify")
    ECWID = "ecwid", _("Ecwid")
    SHIPSTATION = "shipstation", _("ShipStation")
    POS = "pos", _("Point of sale")


class Status(models.TextChoices):
    ACTIVE = "active", _("Active")
    ARCHIVED = "archived", _("Archived")
    MERGED = "merged", _("Merged")
    REDACTED = "redacted", _("Redacted")


class Consent(models.TextChoices):
    NOT_SUBSCRIBED = "not_subscribed", _("Not subscribed")
    SUBSCRIBED = "subscribed", _("Subscribed")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")


class ConsentSource(models.TextChoices):
    ADMIN = "admin", _("Admin")
    IMPORT = "import", _("Import")
    MERGE = "merge", _("Merge")
    CHANNEL = "channel", _("Sales channel")
    UNSUBSCRIBE_LINK = "unsubscribe_link", _("Unsubscribe link")


class Tag(TagBase):
    """The store's one tag set: unique case-insensitively, enforced by the database."""

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="tag_name_ci_unique",
                violation_error_message=_("A tag with this name already exists."),
            )
        ]


class TaggedCustomer(ItemBase):
    """A customer's tag link: a plain foreign key each way, so bulk work is set-based.

    Neither key has a database constraint: on PostgreSQL each link paid two commit-time checks
    (2.4 s of "add two tags to all 100,000"). The ORM still cascades deleting a tag or a
    customer, and the guarded bulk delete removes links with their customers (CASCADED).
    """

    tag = models.ForeignKey(
        Tag, on_delete=models.CASCADE, related_name="customer_links", db_constraint=False
    )
    # No index of its own: taggedcustomer_unique (content_object, tag) serves every lookup.
    content_object = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="tag_links",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        verbose_name = _("customer tag")
        verbose_name_plural = _("customer tags")
        constraints = [
            models.UniqueConstraint(fields=["content_object", "tag"], name="taggedcustomer_unique")
        ]


class TaggedOrder(ItemBase):
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="order_links")
    content_object = models.ForeignKey(
        "customers.Order", on_delete=models.CASCADE, related_name="tag_links"
    )

    class Meta:
        verbose_name = _("order tag")
        verbose_name_plural = _("order tags")
        constraints = [
            models.UniqueConstraint(fields=["content_object", "tag"], name="taggedorder_unique")
        ]


# Records that are no longer a person of their own: folded into another, or erased.
NOT_LIVE = ("merged", "redacted")
# An erasure request not yet carried out, on a record that is still a person of its own. The one
# definition: the QuerySet methods and ``Customer.erasure_is_pending`` both read it.
ERASURE_PENDING = models.Q(erasure_requested_at__isnull=False) & ~models.Q(status__in=NOT_LIVE)


class CustomerQuerySet(models.QuerySet):
    def live(self) -> CustomerQuerySet:
        """Customers that are a person of their own: not merged into another, not erased."""
        return self.exclude(status__in=NOT_LIVE)

    def exportable(self) -> CustomerQuerySet:
        """Every customer an export of "all" holds: merged and erased records are no customers."""
        return self.live()

    def erasure_pending(self) -> CustomerQuerySet:
        """Customers with an erasure request not yet carried out."""
        return self.filter(ERASURE_PENDING)

    def erasure_not_pending(self) -> CustomerQuerySet:
        """Customers without an erasure request waiting to be carried out (any status)."""
        return self.exclude(ERASURE_PENDING)

    def erasure_requestable(self) -> CustomerQuerySet:
        """Customers whose erasure can be requested: live, with no request pending."""
        return self.live().filter(erasure_requested_at__isnull=True)

    def active(self) -> CustomerQuerySet:
        return self.filter(status=Status.ACTIVE)

    def not_merged(self) -> CustomerQuerySet:
        return self.exclude(status=Status.MERGED)

    def listed_by_default(self) -> CustomerQuerySet:
        """Customers the list shows before any status filter: not archived, not merged."""
        return self.exclude(status__in=[Status.MERGED, Status.ARCHIVED])

    def with_previous_spent_between(self, low, high) -> CustomerQuerySet:
        """Customers whose previous platform's total is at least ``low`` and below ``high``."""
        qs = self.filter(previous_total_spent__gte=low)
        return qs if high is None else qs.filter(previous_total_spent__lt=high)

    def with_order_counts_between(self, low: int, high: int | None) -> CustomerQuerySet:
        qs = self.filter(order_count__gte=low)
        return qs if high is None else qs.filter(order_count__lte=high)

    # --- the list's conditions (selectors/filtersets.py): one method per kind, set-based ---

    def with_value_between(self, field: str, low=None, high=None) -> CustomerQuerySet:
        """Customers whose ``field`` is at least ``low`` and at most ``high`` (either optional)."""
        bounds = {}
        if low is not None:
            bounds[f"{field}__gte"] = low
        if high is not None:
            bounds[f"{field}__lte"] = high
        return self.filter(**bounds)

    def with_tags_any(self, tag_ids: Iterable[int]) -> CustomerQuerySet:
        """Customers with at least one of the tags: one semi-join on the tag links."""
        links = TaggedCustomer.objects.filter(tag_id__in=list(tag_ids))
        return self.filter(pk__in=links.values("content_object_id"))

    def with_tags_all(self, tag_ids: Iterable[int]) -> CustomerQuerySet:
        """Customers with every one of the tags: one GROUP BY ... HAVING, not a join per tag."""
        ids = sorted(set(tag_ids))
        links = (
            TaggedCustomer.objects.filter(tag_id__in=ids)
            .order_by()
            .values("content_object_id")
            .annotate(found=Count("tag_id"))
            .filter(found=len(ids))
            .values("content_object_id")
        )
        return self.filter(pk__in=links)

    def without_tags(self, tag_ids: Iterable[int]) -> CustomerQuerySet:
        """Customers with none of the tags (an anti-join)."""
        links = TaggedCustomer.objects.filter(tag_id__in=list(tag_ids))
        return self.exclude(pk__in=links.values("content_object_id"))

    def with_default_address(
        self, *, country_code: str = "", province_code: str = "", city: str = ""
    ) -> CustomerQuerySet:
        """Customers whose DEFAULT address is in this country / province / city (given parts)."""
        where = {}
        if country_code:
            where["country_code"] = country_code.upper()
        if province_code:
            where["province_code"] = province_code.upper()
        if city:
            where["city__iexact"] = city
        addresses = Address.objects.filter(is_default=True, **where)
        return self.filter(pk__in=addresses.values("customer_id"))

    def with_email_domain(self, domain: str) -> CustomerQuerySet:
        """Customers whose email is at this domain (emails are stored lower-cased)."""
        return self.filter(email__endswith="@" + domain.lower().lstrip("@"))

    def without_email(self) -> CustomerQuerySet:
        return self.filter(email="")

    def without_phone(self) -> CustomerQuerySet:
        return self.filter(phone="")

    def with_birthday_within(self, days: int, today: datetime.date) -> CustomerQuerySet:
        """Customers whose birthday falls from ``today`` to ``days`` days later, inclusive.

        The window may cross the year's end; someone born on 29 February celebrates on the 28th
        in a year without one. One condition per month touched, on month and day.
        """
        if days >= 365:
            return self.filter(date_of_birth__isnull=False)
        spans: dict[int, list[int]] = {}
        for offset in range(days + 1):
            day = today + datetime.timedelta(days=offset)
            span = spans.setdefault(day.month, [day.day, day.day])
            span[0], span[1] = min(span[0], day.day), max(span[1], day.day)
            if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
                span[1] = 29
        condition = Q()
        for month, (first, last) in spans.items():
            condition |= Q(
                date_of_birth__month=month,
                date_of_birth__day__gte=first,
                date_of_birth__day__lte=last,
            )
        return self.filter(condition)

    def deletable(self) -> CustomerQuerySet:
        """Customers with no order history, no pending erasure and no active subscription."""
        has_orders = models.Exists(Order.objects.filter(customer=OuterRef("pk")))
        return self.filter(
            ~has_orders, erasure_requested_at__isnull=True, has_active_subscription=False
        )

    def with_tag(self, tag_id: int) -> CustomerQuerySet:
        return self.filter(
            pk__in=TaggedCustomer.objects.filter(tag_id=tag_id).values("content_object_id")
        )


class Customer(models.Model):
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    # Indexed in Meta.indexes (no LIKE-prefix twin on PostgreSQL): exact lookups only.
    email = models.EmailField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, help_text=_("Stored in E.164."))
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    company = models.CharField(_("company"), max_length=255, blank=True)
    username = models.CharField(
        _("username"),
        max_length=150,
        blank=True,
        help_text=_("The sales channel's own customer id (ShipStation's Username)."),
    )
    email_consent = models.CharField(
        _("email marketing"), max_length=20, choices=Consent, default=Consent.NOT_SUBSCRIBED
    )
    email_consent_updated_at = models.DateTimeField(
        _("email marketing changed"), null=True, blank=True
    )
    email_consent_source = models.CharField(
        _("email marketing source"), max_length=20, choices=ConsentSource, blank=True
    )
    sms_consent = models.CharField(
        _("SMS marketing"), max_length=20, choices=Consent, default=Consent.NOT_SUBSCRIBED
    )
    sms_consent_updated_at = models.DateTimeField(_("SMS marketing changed"), null=True, blank=True)
    sms_consent_source = models.CharField(
        _("SMS marketing source"), max_length=20, choices=ConsentSource, blank=True
    )
    tax_exempt = models.BooleanField(_("tax exempt"), default=False)
    group = models.ForeignKey(
        "groups.CustomerGroup",
        verbose_name=_("group"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
        # Indexed only where set, in Meta (customer_group_idx): most customers are in no group.
        db_index=False,
    )
    tags = TaggableManager(verbose_name=_("tags"), through=TaggedCustomer, blank=True)
    source = models.CharField(
        _("source channel"), max_length=20, choices=Channel, default=Channel.MANUAL
    )
    status = models.CharField(_("status"), max_length=20, choices=Status, default=Status.ACTIVE)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="absorbed",
        db_index=False,
    )
    has_active_subscription = models.BooleanField(_("active subscription"), default=False)
    # What the previous platform (a Shopify export) knew: kept apart from our own order history.
    shopify_id = models.CharField(_("Shopify customer ID"), max_length=64, blank=True)
    previous_total_spent = models.DecimalField(
        _("total spent on the previous platform"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("In the store's currency, as the import file gave it."),
    )
    previous_total_orders = models.PositiveIntegerField(
        _("orders on the previous platform"), null=True, blank=True
    )
    erasure_requested_at = models.DateTimeField(_("erasure requested"), null=True, blank=True)
    erasure_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("erasure requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # Indexed first in customer_listed_idx, order_count in customer_orders_listed_idx (Meta).
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    # The order summary: derived from the customer's orders by services.order_summary, never
    # typed, so the list sorts and filters on money without aggregating orders per page view.
    order_count = models.PositiveIntegerField(_("orders"), default=0)
    total_spent = models.DecimalField(
        _("total spent"), max_digits=14, decimal_places=2, default=0, db_index=True
    )
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True, db_index=True)
    # Orders in another currency with no rate stored, by currency: shown apart, never added.
    spent_unconverted = models.JSONField(_("spent in other currencies"), default=dict, blank=True)
    # Orders counted in total_spent (in the store's currency or with a rate), and their average:
    # stored beside the total so that the list sorts and filters on it through an index.
    counted_order_count = models.PositiveIntegerField(_("orders in the total"), default=0)
    average_order_value = models.DecimalField(
        _("average order"), max_digits=14, decimal_places=2, null=True, blank=True, db_index=True
    )

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~Q(email="") & ~Q(status="merged"),
                name="customer_email_ci_unique_unmerged",
                violation_error_message=EMAIL_TAKEN,
            ),
            models.CheckConstraint(
                condition=Q(status="redacted") | ~Q(email="") | ~Q(phone=""),
                name="customer_email_or_phone",
                violation_error_message=EMAIL_OR_PHONE_REQUIRED,
            ),
            models.CheckConstraint(
                condition=Q(status="merged", merged_into__isnull=False)
                | (~Q(status="merged") & Q(merged_into__isnull=True)),
                name="customer_merged_has_target",
            ),
        ]
        # Every index is rewritten by every UPDATE that is not HOT: each one here serves a query
        # (see migrations 0010_index_diet and 0016_partial_indexes for which).
        indexes = [
            # Exact email: the list's exact search, import and channel matching (email = %s).
            models.Index(fields=["email"], name="customer_email_idx"),
            # Exact phone: the list's exact search, import and channel matching. Partial, like
            # the status, group and Shopify id indexes (migration 0016): most customers have
            # none, and a bulk UPDATE writes no entry for them. SQLite's planner reads it only
            # when the query also says "phone <> ''" (it cannot prove it from "phone = %s").
            # It also holds the list's tie-break and status (migration 0021): sorting by phone
            # then reads it alone, page 5,000 by number included, without a lookup per row.
            models.Index(
                fields=["phone", "-created_at", "-id", "status"],
                condition=~Q(phone=""),
                name="customer_phone_idx",
            ),
            # The status filter's rare values (archived, merged, erased), OR-ed: SQLite's planner
            # reads a partial index when the query's "status = %s" is one of its OR-ed terms.
            models.Index(
                fields=["status"],
                condition=Q(status=Status.ARCHIVED)
                | Q(status=Status.MERGED)
                | Q(status=Status.REDACTED),
                name="customer_status_idx",
            ),
            # Foreign keys that are nearly always NULL: indexed only where set, for the
            # merge chains, PROTECT and SET NULL.
            models.Index(
                fields=["merged_into"],
                condition=Q(merged_into__isnull=False),
                name="customer_merged_into_idx",
            ),
            models.Index(
                fields=["erasure_requested_by"],
                condition=Q(erasure_requested_by__isnull=False),
                name="customer_erasure_by_idx",
            ),
            # The group filter, "has a group", member counts and SET NULL on a group's deletion
            # all look for set values; most customers are in no group (migration 0016).
            models.Index(
                fields=["group"], condition=Q(group__isnull=False), name="customer_group_idx"
            ),
            # The list's exact search by Shopify customer id (selectors/search.py).
            models.Index(
                fields=["shopify_id"], condition=~Q(shopify_id=""), name="customer_shopify_id_idx"
            ),
            # The list's default order with the default status filter in one index: a page far
            # down is found by skipping index entries, not rows (pagination.py, deferred join).
            models.Index(fields=["created_at", "id", "status"], name="customer_listed_idx"),
            # Sort by orders, ties in the default order, and an order-count range sorted by
            # orders: one index walk, no sort of a quarter of the table.
            models.Index(
                fields=["order_count", "created_at", "id", "status"],
                name="customer_orders_listed_idx",
            ),
        ]
        permissions = [
            ("import_customer", _("Can import customers")),
            ("export_customer", _("Can export customers")),
            ("merge_customer", _("Can merge customers")),
            ("email_customer", _("Can email customers")),
            ("tag_customer", _("Can tag customers")),
            ("group_customer", _("Can change customers' group")),
            ("archive_customer", _("Can archive customers")),
            ("request_erasure_customer", _("Can request erasure of customers")),
            ("export_personal_data_customer", _("Can export customers' personal data")),
            (
                "send_bulk_transactional_email",
                _("Can send a non-marketing email to many customers"),
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or phone_display(self.phone) or f"#{self.pk}"

    @property
    def erasure_is_pending(self) -> bool:
        """The one-row form of ``Customer.objects.erasure_pending()``."""
        return self.erasure_requested_at is not None and self.status not in NOT_LIVE

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part).strip()

    def default_country_code(self) -> str:
        """The country of the stored default address ('' if none): the phone's region."""
        if self.pk is None:
            return ""
        return (
            Address.objects.filter(customer_id=self.pk, is_default=True)
            .values_list("country_code", flat=True)
            .first()
            or ""
        )

    def clean(self) -> None:
        """Normalise email and phone (read in the default address's region); require one."""
        self.email = (self.email or "").strip().lower()
        raw_phone = (self.phone or "").strip()
        if raw_phone:
            e164 = phone_to_e164(raw_phone, phone_region(country_code=self.default_country_code()))
            if e164 is None:
                raise ValidationError(
                    {
                        "phone": ValidationError(
                            PHONE_INVALID, code="phone_invalid", params={"value": raw_phone}
                        )
                    }
                )
            self.phone = e164
        if self.status != Status.REDACTED and not self.email and not self.phone:
            raise ValidationError(EMAIL_OR_PHONE_REQUIRED, code="email_or_phone_required")


class Address(models.Model):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="addresses"
    )
    company = models.CharField(_("company"), max_length=255, blank=True)
    address1 = models.CharField(_("address line 1"), max_length=255, blank=True)
    address2 = models.CharField(_("address line 2"), max_length=255, blank=True)
    city = models.CharField(_("city"), max_length=120, blank=True)
    province_code = models.CharField(_("province / state code"), max_length=10, blank=True)
    country_code = models.CharField(
        _("country code"), max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2, e.g. FR.")
    )
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    is_default = models.BooleanField(_("default address"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Computed by the database on every write (admin, import, update()), so no writer keeps it.
    match_key = models.GeneratedField(
        verbose_name=_("matching key"),
        expression=address_key_expression(),
        output_field=models.CharField(max_length=800),
        db_persist=True,
    )

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ["-is_default", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_default=True),
                name="address_one_default_per_customer",
                violation_error_message=_("A customer has only one default address."),
            ),
        ]
        indexes = [
            # The duplicate finder groups by the key; with the customer in the index it never
            # reads the address rows themselves.
            models.Index(
                fields=["match_key", "customer"],
                condition=~Q(address1="") & ~Q(country_code=""),
                name="address_match_key_idx",
            ),
        ]

    def __str__(self) -> str:
        parts = [
            self.address1,
            self.address2,
            self.city,
            self.province_code,
            self.postal_code,
            self.country_code,
        ]
        return ", ".join(p for p in parts if p)

    def clean(self) -> None:
        """Normalise codes and phone; apply the US military address rules."""
        self.country_code = (self.country_code or "").strip().upper()
        self.province_code = (self.province_code or "").strip().upper()
        self.postal_code = (self.postal_code or "").strip()
        errors = military_address_errors(
            address1=self.address1,
            city=self.city,
            province_code=self.province_code,
            country_code=self.country_code,
            postal_code=self.postal_code,
        )
        if self.country_code and (len(self.country_code) != 2 or not self.country_code.isalpha()):
            errors["country_code"] = ValidationError(
                _("Use the two-letter ISO country code, e.g. FR or US."), code="country_code"
            )
        raw_phone = (self.phone or "").strip()
        if raw_phone:
            e164 = phone_to_e164(raw_phone, self.country_code)
            if e164 is None:
                errors["phone"] = ValidationError(
                    PHONE_INVALID, code="phone_invalid", params={"value": raw_phone}
                )
            else:
                self.phone = e164
        if errors:
            raise ValidationError(errors)
        normalised = military_normalise(
            {
                "address1": self.address1,
                "city": self.city,
                "province_code": self.province_code,
                "country_code": self.country_code,
            }
        )
        for key, value in normalised.items():
            setattr(self, key, value)


class Note(models.Model):
    """A staff-only note on a customer."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    body = models.TextField(_("note"))
    created_at = models.DateTimeField(_("written"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.body[:60]


class OrderQuerySet(models.QuerySet):
    def totals_for(self, customer: Customer) -> dict:
        """Return count, last order and total spent per currency of a customer's orders."""
        qs = self.filter(customer=customer).order_by()
        summary = qs.aggregate(count=Count("pk"), last=Max("placed_at"))
        per_currency = (
            qs.values("currency")
            .annotate(total=Coalesce(Sum("total"), Value(0), output_field=DecimalField()))
            .order_by("currency")
        )
        summary["spent"] = [(row["currency"], row["total"]) for row in per_currency]
        return summary


class Order(models.Model):
    """Order history from the sales channels; read-only here."""

    number = models.CharField(_("number"), max_length=64)
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    placed_at = models.DateTimeField(_("placed"), default=timezone.now, db_index=True)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    # Store-currency units per unit of ``currency`` when the order was placed, as the channel
    # sent it (Shopify's shop_money over presentment_money); empty if unknown.
    exchange_rate = models.DecimalField(
        _("exchange rate"), max_digits=18, decimal_places=8, null=True, blank=True
    )
    source = models.CharField(_("source channel"), max_length=20, choices=Channel)
    shipping_address = models.JSONField(_("shipping address"), default=dict, blank=True)
    tags = TaggableManager(verbose_name=_("tags"), through=TaggedOrder, blank=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["source", "number"], name="order_number_per_channel")
        ]

    def __str__(self) -> str:
        return self.number


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    UPDATED = "updated", _("Updated")
    TAGS_ADDED = "tags_added", _("Tags added")
    TAGS_REMOVED = "tags_removed", _("Tags removed")
    GROUP_CHANGED = "group_changed", _("Group changed")
    ARCHIVED = "archived", _("Archived")
    UNARCHIVED = "unarchived", _("Unarchived")
    EMAILED = "emailed", _("Emailed")
    DELETED = "deleted", _("Deleted")
    MERGED = "merged", _("Merged")
    ABSORBED = "absorbed", _("Merged into another customer")
    UNMERGED = "unmerged", _("Merge undone")
    IMPORTED = "imported", _("Imported")
    CONSENT_CHANGED = "consent_changed", _("Consent changed")
    ERASURE_REQUESTED = "erasure_requested", _("Erasure requested")
    ERASURE_CANCELLED = "erasure_cancelled", _("Erasure request cancelled")
    REDACTED = "redacted", _("Personal data erased")
    PERSONAL_DATA_EXPORTED = "personal_data_exported", _("Personal data exported")
    NOTE_ADDED = "note_added", _("Note added")
    ORDER_RECORDED = "order_recorded", _("Order recorded")
    MASS_UPDATED = "mass_updated", _("Changed in a mass update")


class TimeOrderedIndex(models.Index):
    """An index on a column that grows with the table: BRIN on PostgreSQL, a btree elsewhere.

    Rows appended in time order make a BRIN index a few pages that cost almost nothing per
    insert, where a btree writes an entry for every row; SQLite has no BRIN.
    """

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            using = " USING brin"
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class CustomerEvent(models.Model):
    """One line of a customer's audit trail. Outlives the customer (customer_ref keeps its id)."""

    # No constraint and no index: every read goes through customer_ref, and a bulk action's
    # 100,000 events would pay an index entry and a commit-time check each for this link.
    # Deleting customers nulls it through customer_ref (services.deletion).
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
        db_constraint=False,
        db_index=False,
    )
    # Indexed by event_customer_time, whose first column it is.
    customer_ref = models.BigIntegerField(_("customer id"))
    # No constraint either: the trail is append-only and staff users are deleted through
    # Django, whose collector nulls this through event_actor_idx (SET_NULL), so the database
    # check per event written bought nothing.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    actor_label = models.CharField(_("by"), max_length=150, blank=True)
    kind = models.CharField(_("event"), max_length=30, choices=EventKind)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("customer event")
        verbose_name_plural = _("customer events")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["customer_ref", "-created_at"], name="event_customer_time"),
            # The audit log's date filter; its list is ordered by id (admin/events.py).
            TimeOrderedIndex(fields=["created_at"], name="event_created_idx"),
            # Only for SET NULL when a staff user is deleted; work done by commands has none.
            models.Index(
                fields=["actor"], condition=Q(actor__isnull=False), name="event_actor_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.customer_ref}"


class CustomerMerge(models.Model):
    """One merge: who folded which customers into which, and what moved, so it can be undone.

    ``survivor_before`` / ``survivor_after`` hold the survivor's merged fields before and after the
    merge; ``absorbed_before`` each absorbed record's status; ``moved`` per absorbed id the ids of
    the orders, notes, addresses and tag links that moved, the addresses folded into an identical
    one (they stay on the absorbed record), the tags the survivor already had (their links were
    dropped), the moved addresses that were defaults and those whose default flag was cleared.
    """

    survivor = models.ForeignKey(
        Customer, verbose_name=_("survivor"), on_delete=models.PROTECT, related_name="merges"
    )
    absorbed_ids = models.JSONField(_("absorbed customers"), default=list)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(_("by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("merged"), default=timezone.now, db_index=True)
    survivor_before = models.JSONField(_("survivor before"), default=dict)
    survivor_after = models.JSONField(_("survivor after"), default=dict)
    absorbed_before = models.JSONField(_("absorbed records before"), default=dict)
    moved = models.JSONField(_("what moved"), default=dict)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("undone by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    undone_by_label = models.CharField(_("undone by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.survivor_id} ← {', '.join(f'#{pk}' for pk in self.absorbed_ids)}"


class Mailing(models.Model):
    """One email sent to a selection: the full subject and text as typed, placeholders unfilled.

    Each recipient's EMAILED event says who got it; this row keeps what was said.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(_("by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("sent"), default=timezone.now, db_index=True)
    subject = models.TextField(_("subject"))
    body = models.TextField(_("text"))
    marketing = models.BooleanField(_("marketing email"), default=False)
    selected = models.PositiveIntegerField(_("customers selected"), default=0)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)

    class Meta:
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.subject


class ExportKind(models.TextChoices):
    CUSTOMERS = "customers", _("Customer list")
    PERSONAL_DATA = "personal_data", _("One customer's personal data")


class ExportOrigin(models.TextChoices):
    ADMIN = "admin", _("Admin")
    COMMAND = "command", _("Management command")


class ExportRecord(models.Model):
    """One export of customer data: who, what was selected, which columns, how many rows.

    Not a customer event: an export of the whole list concerns no customer in particular.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(_("by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("exported"), default=timezone.now, db_index=True)
    kind = models.CharField(_("export"), max_length=20, choices=ExportKind)
    origin = models.CharField(_("from"), max_length=20, choices=ExportOrigin)
    selection = models.JSONField(_("selection"), default=dict, blank=True)
    columns = models.JSONField(_("columns"), default=list, blank=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)

    class Meta:
        verbose_name = _("export record")
        verbose_name_plural = _("export records")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.actor_label} · {self.rows}"


class ImportMapping(models.Model):
    """A column mapping saved by the staff, reused for every file with the same header."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    header = models.JSONField(_("header"), default=list)
    header_key = models.CharField(_("header key"), max_length=64, db_index=True, editable=False)
    columns = models.JSONField(_("columns"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("saved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("saved"), auto_now=True)

    class Meta:
        verbose_name = _("import column mapping")
        verbose_name_plural = _("import column mappings")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# --- sales channels: connections, the webhook inbox and the channels' own ids ------------------


class ChannelConnection(models.Model):
    """One store or point of sale that sends customers and orders to the back office.

    A Shopify connection signs its webhooks with ``webhook_secret`` (kept as given: the HMAC
    needs it); a POS connection authenticates with a bearer token of which only the SHA-256 is
    kept, shown once when issued.
    """

    CHANNELS = [(Channel.SHOPIFY, Channel.SHOPIFY.label), (Channel.POS, Channel.POS.label)]

    uuid = models.UUIDField(_("webhook id"), default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(_("channel"), max_length=20, choices=CHANNELS)
    name = models.CharField(_("name"), max_length=100, unique=True)
    shop_domain = models.CharField(
        _("shop domain"), max_length=255, blank=True, help_text=_("e.g. my-store.myshopify.com")
    )
    webhook_secret = models.CharField(
        _("webhook secret"),
        max_length=255,
        blank=True,
        help_text=_("Shopify: the secret that signs the webhooks (Settings > Notifications)."),
    )
    token_hash = models.CharField(
        _("token hash"), max_length=64, blank=True, db_index=True, editable=False
    )
    active = models.BooleanField(_("active"), default=True)
    tags = models.CharField(
        _("tags for new customers"),
        max_length=255,
        blank=True,
        help_text=_("Comma-separated; added to every customer this connection creates."),
    )
    keep_names = models.BooleanField(
        _("keep names"),
        default=False,
        help_text=_("Never overwrite the first and last name of an existing customer."),
    )
    service_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("service user"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("channel connection")
        verbose_name_plural = _("channel connections")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChannelCustomerLink(models.Model):
    """A channel's own customer id (the Shopify customer id) on one connection -> our customer.

    A table rather than a column: two stores have two ids for one person. The customer is held
    by id, not by foreign key, like the audit trail: the guarded delete removes a customer with
    one statement per table it knows, and a link to a deleted id simply matches again.
    """

    connection = models.ForeignKey(
        ChannelConnection, on_delete=models.CASCADE, related_name="customer_links"
    )
    external_id = models.CharField(_("channel id"), max_length=64)
    customer_ref = models.BigIntegerField(_("customer id"), db_index=True)
    remote_updated_at = models.DateTimeField(_("updated in the channel"), null=True, blank=True)

    class Meta:
        verbose_name = _("channel customer id")
        verbose_name_plural = _("channel customer ids")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="channel_customer_link_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection_id}:{self.external_id}"


class ChannelOrderLink(models.Model):
    """A channel's own order id on one connection -> our order, so an update never duplicates."""

    connection = models.ForeignKey(
        ChannelConnection, on_delete=models.CASCADE, related_name="order_links"
    )
    external_id = models.CharField(_("channel id"), max_length=64)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="channel_links")
    remote_updated_at = models.DateTimeField(_("updated in the channel"), null=True, blank=True)

    class Meta:
        verbose_name = _("channel order id")
        verbose_name_plural = _("channel order ids")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="channel_order_link_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection_id}:{self.external_id}"


class ChannelEventState(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Done")
    IGNORED_DUPLICATE = "ignored_duplicate", _("Ignored: duplicate")
    IGNORED_STALE = "ignored_stale", _("Ignored: older than the stored data")
    FAILED = "failed", _("Failed")


class ChannelEvent(models.Model):
    """One webhook delivery as received (the inbox): stored first, processed by a job."""

    connection = models.ForeignKey(
        ChannelConnection,
        verbose_name=_("connection"),
        on_delete=models.CASCADE,
        related_name="events",
    )
    topic = models.CharField(_("topic"), max_length=64, db_index=True)
    webhook_id = models.CharField(_("webhook id"), max_length=128)
    event_id = models.CharField(_("event id"), max_length=128, blank=True)
    body = models.TextField(_("body"))
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    state = models.CharField(
        _("state"),
        max_length=20,
        choices=ChannelEventState,
        default=ChannelEventState.PENDING,
    )
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # By id, like the audit trail: the event outlives a deleted customer.
    customer_ref = models.BigIntegerField(_("customer id"), null=True, blank=True, db_index=True)
    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        verbose_name = _("channel event")
        verbose_name_plural = _("channel events")
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "webhook_id"], name="channel_event_webhook_unique"
            )
        ]
        indexes = [
            models.Index(fields=["state", "received_at"], name="channel_event_state_idx"),
            # The duplicate check reads the other deliveries of one Shopify event.
            models.Index(fields=["connection", "event_id"], name="channel_event_event_idx"),
            # A drain claims the oldest pending event: read in key order, only pending rows.
            models.Index(
                fields=["id"],
                condition=models.Q(state="pending"),
                name="channel_event_pending_idx",
            ),
        ]
        permissions = [("retry_channelevent", _("Can retry channel events"))]

    def __str__(self) -> str:
        return f"{self.topic} {self.webhook_id}"


# --- segments: saved list queries ------------------------------------------------------------


class SegmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> SegmentQuerySet:
        """Return the segments ``user`` may see: shared ones and their own (every one for a
        superuser); none without ``customers.view_segment``."""
        if not (user.is_active and user.is_staff and user.has_perm("customers.view_segment")):
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(models.Q(shared=True) | models.Q(created_by=user))

    def visible_to_request(self, request) -> SegmentQuerySet:
        """The segments a request's user sees; all of them for code run without a request."""
        return self if request is None else self.visible_to(request.user)


class Segment(models.Model):
    """A saved set of the customer list's conditions, evaluated again every time it is used.

    ``conditions`` are the list's own query parameters (normalised by the FilterSet), all of
    which a customer must match. ``any_of`` holds "any of" groups: a list of groups, each a list
    of alternative condition dicts; a customer must match at least one alternative of every group.
    """

    name = models.CharField(_("name"), max_length=100)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    any_of = models.JSONField(_("any of"), default=list, blank=True)
    shared = models.BooleanField(
        _("shared"), default=True, help_text=_("Visible to all staff, not only to its author.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    objects = SegmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "pk"]
        constraints = [
            # "VIP" and "vip" would be two segments no one can tell apart in a menu.
            models.UniqueConstraint(Lower("name"), name="segment_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class DuplicateKeyGroup(models.Model):
    """One matching key (an email, a phone, a postal address's key) and how many customers hold it.

    Derived data, kept by ``services.duplicate_keys`` on every write that changes a key or whether
    the customer is listed (merged and erased customers hold none). A key held by two customers or
    more is a group of possible duplicates; the partial index holds only those, so "has possible
    duplicates" and the duplicates page read the groups, not every customer.
    """

    kind = models.CharField(_("kind"), max_length=10)
    key = models.CharField(_("key"), max_length=800)
    size = models.PositiveIntegerField(_("customers"), default=0)

    class Meta:
        verbose_name = _("duplicate key")
        verbose_name_plural = _("duplicate keys")
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="duplicate_key_group_unique")
        ]
        indexes = [
            models.Index(
                fields=["kind", "key"], condition=Q(size__gt=1), name="duplicate_key_shared_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.key}"


class DuplicateKey(models.Model):
    """A listed customer holds a key: the rows ``DuplicateKeyGroup.size`` counts."""

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="duplicate_keys",
    )
    # No index of its own: the unique constraint below starts with it.
    group = models.ForeignKey(
        DuplicateKeyGroup,
        verbose_name=_("duplicate key"),
        on_delete=models.CASCADE,
        related_name="holders",
        db_index=False,
    )

    class Meta:
        verbose_name = _("customer's duplicate key")
        verbose_name_plural = _("customers' duplicate keys")
        constraints = [
            models.UniqueConstraint(fields=["group", "customer"], name="duplicate_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.group_id}"
