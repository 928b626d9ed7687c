"""Fill the back office with realistic demo customers, groups, tags, notes and orders."""

from __future__ import annotations

import itertools
import random
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import phonenumbers
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, reset_queries, transaction
from django.utils import timezone

from customers.audit.events import customers_created_events, orders_recorded_events
from customers.db.bulk import ids_reserve, insert_fields, rows_insert
from customers.models import (
    Address,
    Channel,
    ChannelOrderLink,
    Consent,
    ConsentSource,
    Customer,
    CustomerEvent,
    CustomerMerge,
    DuplicateKey,
    DuplicateKeyGroup,
    Note,
    Order,
    Tag,
    TaggedCustomer,
    TaggedOrder,
)
from customers.services.duplicate_keys import duplicate_keys_refresh
from customers.services.order_summary import CENT, store_currency
from groups.models import CustomerGroup

BATCH = 2000
DEMO_USER, DEMO_PASSWORD = "demo", "demo"
CLERK_USER, CLERK_PASSWORD = "clerk", "clerk"
NOT_IN_PRODUCTION = (
    "seed_demo fills the database with made-up customers and creates staff users with known "
    "passwords: it only runs with DJANGO_DEBUG on. Add --force to run it anyway."
)

# country: (first names, last names, [(city, province, postal code, street)], currency)
COUNTRIES = {
    "FR": (
        [
            "Élodie",
            "François",
            "Zoé",
            "Hélène",
            "Jérôme",
            "Loïc",
            "Anaïs",
            "Cédric",
            "Mathéo",
            "Inès",
        ],
        [
            "Dupont",
            "Lefèvre",
            "Moreau",
            "Bérard",
            "Girard",
            "Lemaître",
            "Côté",
            "D'Arcy",
            "Faure",
            "Rousseau",
        ],
        [
            ("Paris", "", "75011", "rue de la Roquette"),
            ("Lyon", "", "69003", "cours Lafayette"),
            ("Marseille", "", "13001", "La Canebière"),
            ("Lille", "", "59000", "rue Nationale"),
        ],
        "EUR",
    ),
    "ES": (
        [
            "José",
            "María",
            "Begoña",
            "Íñigo",
            "Sofía",
            "Martín",
            "Lucía",
            "Álvaro",
            "Nuria",
            "Jesús",
        ],
        [
            "Núñez",
            "García",
            "Muñoz",
            "Peña",
            "Ibáñez",
            "Fernández",
            "Gómez",
            "Sáez",
            "Ortega",
            "Díaz",
        ],
        [
            ("Madrid", "M", "28013", "Calle Mayor"),
            ("Barcelona", "B", "08002", "Carrer de Ferran"),
            ("Sevilla", "SE", "41001", "Calle Sierpes"),
            ("Bilbao", "BI", "48001", "Gran Vía"),
        ],
        "EUR",
    ),
    "US": (
        [
            "John",
            "Emily",
            "Michael",
            "Ashley",
            "David",
            "Jessica",
            "Chris",
            "Sarah",
            "Kevin",
            "Megan",
        ],
        [
            "Smith",
            "O'Brien",
            "Johnson",
            "Williams",
            "Brown",
            "Davis",
            "Miller",
            "Wilson",
            "Anderson",
            "Taylor",
        ],
        [
            ("Boston", "MA", "02114", "Cambridge St"),
            ("Austin", "TX", "78701", "Congress Ave"),
            ("Seattle", "WA", "98101", "Pike St"),
            ("Newark", "NJ", "07102", "Broad St"),
        ],
        "USD",
    ),
    "DE": (
        ["Jürgen", "Käthe", "Lukas", "Mia", "Jörg", "Sören", "Lena", "Max", "Anja", "Björn"],
        [
            "Müller",
            "Schröder",
            "Weiß",
            "Schmidt",
            "Fischer",
            "Becker",
            "Hoffmann",
            "Schäfer",
            "Koch",
            "Groß",
        ],
        [("Berlin", "BE", "10115", "Invalidenstraße"), ("München", "BY", "80331", "Marienplatz")],
        "EUR",
    ),
    "CA": (
        ["Émilie", "Olivier", "Chloé", "Liam", "Noah", "Gabrielle"],
        ["Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier"],
        [
            ("Ottawa", "ON", "K1A 0B1", "Wellington St"),
            ("Montréal", "QC", "H2Y 1C6", "rue Notre-Dame"),
        ],
        "CAD",
    ),
    "JP": (
        ["さくら", "陽翔", "結衣", "Haruto", "Yui"],
        ["佐藤", "鈴木", "高橋", "Tanaka", "Watanabe"],
        [("東京", "13", "100-0001", "千代田1-1")],
        "JPY",
    ),
}
COUNTRY_WEIGHTS = {"FR": 25, "ES": 20, "US": 35, "DE": 8, "CA": 8, "JP": 4}
TAGS = ["VIP", "Wholesale", "Newsletter", "Fidélité", "Retail", "B2B", "Mayorista", "Early adopter"]
GROUPS = [
    ("Wholesale", "Trade customers", Decimal("10")),
    ("VIP", "Best customers", Decimal("5")),
    ("Staff", "Employees", Decimal("20")),
    ("Revendeurs", "Revendeurs en France", Decimal("8")),
]
NOTES = [
    "Prefers delivery after 6 pm.",
    "Appelle avant de livrer.",
    "Cliente fidèle depuis 2019.",
    "Asked for an invoice with VAT number.",
    "Quiere factura a nombre de la empresa.",
    "Allergic to latex packaging peanuts.",
]


def _ascii(text: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if ch.isascii() and ch.isalnum()
    ).lower()


def _phone_pool(region: str, rng: random.Random, size: int = 400) -> list[str]:
    """Valid numbers of a region, made by varying the last digits of its example number."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number)
    pool: list[str] = []
    for _ in range(size * 3):
        candidate = national[:-4] + f"{rng.randrange(10000):04d}"
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number):
            pool.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        if len(pool) >= size:
            break
    return pool


SEED_CHUNK = 10_000


@dataclass
class SeedContext:
    """What every chunk draws from: the random source, groups, tags, phone pools, row templates."""

    rng: random.Random
    demo: object
    now: datetime
    groups: list[CustomerGroup]
    tags: list[Tag]
    pools: dict[str, list[str]]
    order_numbers: itertools.count = field(default_factory=lambda: itertools.count(1001))
    templates: dict[type, dict] = field(default_factory=dict)

    @classmethod
    def build(cls, rng: random.Random, demo) -> SeedContext:
        groups = [
            CustomerGroup.objects.get_or_create(
                name=name, defaults={"description": desc, "discount_percent": discount}
            )[0]
            for name, desc, discount in GROUPS
        ]
        tags = [
            Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name)
            for name in TAGS
        ]
        pools = {region: _phone_pool(region, rng) for region in COUNTRIES}
        return cls(rng, demo, timezone.now(), groups, tags, pools)

    def row(self, model, **values) -> tuple:
        """A row of ``model`` in ``insert_fields(model, with_pk=False)`` order: the field
        defaults, then ``values``. Plain tuples for rows_insert: a model instance per row costs
        more than its insert."""
        template = self.templates.get(model)
        if template is None:
            template = self.templates[model] = {
                name: model._meta.get_field(name).get_default()
                for name in insert_fields(model, with_pk=False)
            }
            if "created_at" in template:
                template["created_at"] = self.now
        unknown = values.keys() - template.keys()
        if unknown:
            raise TypeError(f"{model.__name__} has no column {sorted(unknown)}")
        return tuple(values.get(name, default) for name, default in template.items())


@dataclass
class SeedOrder:
    """What the ORDER_RECORDED writer reads of an order (the row itself goes in as a tuple)."""

    pk: int
    customer_id: int
    number: str
    total: Decimal
    currency: str
    source: str


@dataclass
class SeedRows:
    """One chunk's rows, as tuples in insert_fields order (see SeedContext.row)."""

    customers: list[tuple] = field(default_factory=list)
    addresses: list[tuple] = field(default_factory=list)
    links: list[tuple] = field(default_factory=list)
    notes: list[tuple] = field(default_factory=list)
    orders: list[tuple] = field(default_factory=list)
    order_links: list[tuple] = field(default_factory=list)
    recorded: list[SeedOrder] = field(default_factory=list)


def _consent(rng: random.Random, weights: list[int], created: datetime) -> tuple:
    """A consent state with the time and source an import would have written."""
    state = rng.choices(list(Consent.values), weights)[0]
    if state == "not_subscribed":
        return state, None, ""
    return state, created, ConsentSource.IMPORT


@dataclass
class SeedCustomer:
    """What the related rows of a demo customer need to know of it."""

    pk: int
    region: str
    first_name: str
    last_name: str
    phone: str
    source: str
    created_at: datetime
    orders: list[tuple[Decimal, str, datetime]] = field(default_factory=list)


def _demo_customer(ctx: SeedContext, pk: int, i: int) -> tuple[SeedCustomer, dict]:
    """The i-th demo customer, of a country drawn by the store's weights, and its values."""
    rng, now = ctx.rng, ctx.now
    region = rng.choices(list(COUNTRY_WEIGHTS), list(COUNTRY_WEIGHTS.values()))[0]
    firsts, lasts, _places, _currency = COUNTRIES[region]
    first, last = rng.choice(firsts), rng.choice(lasts)
    local = _ascii(first) + "." + _ascii(last) if _ascii(first + last) else "client"
    email = f"{local}{i}@example.{region.lower()}" if rng.random() > 0.04 else ""
    phone = rng.choice(ctx.pools[region]) if (rng.random() < 0.7 or not email) else ""
    created = now - timedelta(days=rng.randrange(3 * 365), minutes=rng.randrange(1440))
    email_consent, email_at, email_source = _consent(rng, [55, 35, 10], created)
    sms_consent, sms_at, sms_source = _consent(rng, [75, 20, 5], created)
    birth = now - timedelta(days=rng.randrange(18 * 365, 80 * 365))
    source = rng.choices(list(Channel.values), [20, 20, 35, 10, 10, 5])[0]
    values = dict(
        first_name=first,
        last_name=last,
        email=email,
        phone=phone,
        date_of_birth=birth.date() if rng.random() < 0.4 else None,
        company=f"{last} & Cie" if rng.random() < 0.1 else "",
        username=f"ss-{i:06d}" if rng.random() < 0.15 else "",
        email_consent=email_consent,
        email_consent_updated_at=email_at,
        email_consent_source=email_source,
        sms_consent=sms_consent,
        sms_consent_updated_at=sms_at,
        sms_consent_source=sms_source,
        tax_exempt=rng.random() < 0.05,
        group_id=rng.choice(ctx.groups).pk if rng.random() < 0.3 else None,
        source=source,
        status="archived" if rng.random() < 0.02 else "active",
        has_active_subscription=rng.random() < 0.05,
        erasure_requested_at=now - timedelta(days=3) if rng.random() < 0.005 else None,
        created_at=created,
        updated_at=now,
    )
    return SeedCustomer(pk, region, first, last, phone, source, created), values


def _order_summary(customer: SeedCustomer) -> dict:
    """The customer's order summary as order_summaries_refresh computes it (a test holds the
    two together): the seed's orders carry no exchange rate, so only the store's currency
    counts and the rest is kept apart per currency."""
    store = store_currency()
    spent = Decimal("0")
    unconverted: dict[str, Decimal] = defaultdict(Decimal)
    for total, currency, _placed_at in customer.orders:
        if currency == store:
            spent += total
        else:
            unconverted[currency] += total
    return {
        "order_count": len(customer.orders),
        "total_spent": spent,
        "last_order_at": max((placed for *_rest, placed in customer.orders), default=None),
        "spent_unconverted": {c: str(a.quantize(CENT)) for c, a in sorted(unconverted.items())},
    }


def _demo_address(ctx: SeedContext, customer: SeedCustomer, **extra) -> tuple:
    region = customer.region
    city, province, postal, street = ctx.rng.choice(COUNTRIES[region][2])
    return ctx.row(
        Address,
        customer_id=customer.pk,
        address1=f"{ctx.rng.randrange(1, 200)} {street}",
        city=city,
        province_code=province,
        postal_code=postal,
        country_code=region,
        **extra,
    )


def _demo_related(ctx: SeedContext, customer: SeedCustomer, rows: SeedRows) -> None:
    """Add the customer's addresses, tags, note and orders to the chunk's rows."""
    rng = ctx.rng
    rows.addresses.append(_demo_address(ctx, customer, phone=customer.phone, is_default=True))
    home = rows.addresses[-1]
    if rng.random() < 0.2:
        second = "2e étage" if customer.region == "FR" else ""
        rows.addresses.append(_demo_address(ctx, customer, company="Bureau", address2=second))
    tag_ids = [
        tag.pk for tag in rng.sample(ctx.tags, rng.choices([0, 1, 2, 3], [40, 35, 18, 7])[0])
    ]
    rows.links.extend((tag_id, customer.pk) for tag_id in tag_ids)
    if rng.random() < 0.1:
        written = customer.created_at + timedelta(days=1)
        rows.notes.append(
            ctx.row(
                Note,
                customer_id=customer.pk,
                author_id=ctx.demo.pk,
                body=rng.choice(NOTES),
                created_at=written,
            )
        )
    if rng.random() < 0.65:
        where = (home[_ADDRESS_CITY], home[_ADDRESS_ZIP], customer.region)
        for _ in range(rng.choices([1, 2, 3, 5, 8], [40, 25, 15, 12, 8])[0]):
            _demo_order(ctx, customer, where, tag_ids, rows)


def _demo_order(ctx: SeedContext, customer: SeedCustomer, home, tag_ids, rows) -> None:
    """Add an order (its row, the customer's tags on it, what its event records) to the rows."""
    rng = ctx.rng
    age = max(1, (ctx.now - customer.created_at).days)
    city, postal, country = home
    order = SeedOrder(
        pk=0,  # reserved once the chunk knows how many orders it has
        customer_id=customer.pk,
        number=f"#{next(ctx.order_numbers)}",
        total=Decimal(rng.randrange(900, 45000)) / 100,
        currency=COUNTRIES[customer.region][3],
        source=customer.source if customer.source not in ("manual", "csv") else "shopify",
    )
    name = " ".join(part for part in (customer.first_name, customer.last_name) if part)
    rows.recorded.append(order)
    placed_at = customer.created_at + timedelta(days=rng.randrange(age))
    customer.orders.append((order.total, order.currency, placed_at))
    rows.orders.append(
        (
            order,
            placed_at,
            {
                "name": name,
                "address1": "—",
                "city": city,
                "country_code": country,
                "postal_code": postal,
            },
            tag_ids,
        )
    )


_ADDRESS_CITY = insert_fields(Address, with_pk=False).index("city")
_ADDRESS_ZIP = insert_fields(Address, with_pk=False).index("postal_code")


class Command(BaseCommand):
    help = "Create demo staff users and realistic demo customers (names with accents, orders, ...)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000, help="How many customers.")
        parser.add_argument(
            "--seed", type=int, default=42, help="Random seed (same data each run)."
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete every customer, order, tag and group first.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with debug off (never on a database with real customers).",
        )

    def handle(self, *args, customers: int, seed: int, reset: bool, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError(NOT_IN_PRODUCTION)
        if customers < 0:
            raise CommandError("--customers must be 0 or more.")
        started = time.monotonic()
        demo, created = self._ensure_users()
        if reset:
            self._reset()
        existing = Customer.objects.count()
        if existing and not reset:
            self.stdout.write(
                f"The database already holds {existing} customers; nothing seeded "
                "(use --reset to start again)."
            )
        else:
            self._seed(customers, random.Random(seed), demo)
            self.stdout.write(
                f"Seeded {customers} customers in {time.monotonic() - started:.1f} s."
            )
        self.stdout.write("Back office: http://127.0.0.1:8000/admin/")
        for username, password, role in (
            (DEMO_USER, DEMO_PASSWORD, "with every permission"),
            (CLERK_USER, CLERK_PASSWORD, "that may only view and edit customers"),
        ):
            login = (
                f"{username} / {password}"
                if username in created
                else (f"{username} (already there: password and permissions left as they were)")
            )
            self.stdout.write(f"  staff login {role}: {login}")

    def _ensure_users(self) -> tuple[object, set[str]]:
        """Create the demo users if missing; an existing user is never changed (its password
        may be a real one by now)."""
        user_model = get_user_model()
        created: set[str] = set()
        demo = user_model.objects.filter(username=DEMO_USER).first()
        if demo is None:
            demo = user_model.objects.create_superuser(DEMO_USER, password=DEMO_PASSWORD)
            created.add(DEMO_USER)
        if user_model.objects.filter(username=CLERK_USER).exists():
            return demo, created
        clerk = user_model.objects.create_user(CLERK_USER, password=CLERK_PASSWORD, is_staff=True)
        created.add(CLERK_USER)
        clerk.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label__in=["customers", "groups"],
                codename__in=[
                    "view_customer",
                    "change_customer",
                    "add_customer",
                    "view_customergroup",
                    "view_order",
                    "view_tag",
                    "add_note",
                    "change_note",
                    "view_note",
                    "add_address",
                    "change_address",
                    "view_address",
                    "delete_address",
                ],
            )
        )
        return demo, created

    def _reset(self):
        """Empty what the seed fills: one DELETE a table, children first. Django's delete()
        loads every row it cascades from, a million customers and their orders at once."""
        emptied = [
            TaggedOrder,
            ChannelOrderLink,
            Order,
            CustomerEvent,
            TaggedCustomer,
            Address,
            Note,
            DuplicateKey,
            CustomerMerge,
            # Absorbed records point at their survivor: one statement deletes both.
            Customer,
            DuplicateKeyGroup,
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            for model in emptied:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
            Tag.objects.all().delete()
            CustomerGroup.objects.all().delete()

    def _seed(self, count: int, rng: random.Random, demo) -> None:
        """Seed in chunks, each in its own transaction, set-based: memory stays flat at any
        count and each chunk costs a handful of statements."""
        self._seed_chunks(count, SeedContext.build(rng, demo))

    def _seed_chunks(self, count: int, ctx: SeedContext) -> None:
        done = 0
        while done < count:
            size = min(SEED_CHUNK, count - done)
            with transaction.atomic():
                rows = SeedRows()
                ids = ids_reserve(model=Customer, count=size)
                for i, pk in enumerate(ids):
                    customer, values = _demo_customer(ctx, pk, done + i)
                    _demo_related(ctx, customer, rows)
                    values.update(_order_summary(customer))
                    rows.customers.append((pk, *ctx.row(Customer, **values)))
                self._seed_rows(ctx, ids, rows)
                if done == 0:
                    # The store's one valid US military address.
                    Address.objects.create(
                        customer_id=ids[0],
                        address1="PSC 1234 BOX 5678",
                        city="APO",
                        province_code="AE",
                        postal_code="09012",
                        country_code="US",
                        is_default=False,
                    )
                duplicate_keys_refresh(customer_ids=ids)
            # With DEBUG on, as on a developer's machine, Django keeps the last 9,000 statements
            # with their values quoted in: a chunk's multi-row INSERTs are 230 KB each, so a
            # million customers held 2 GB of SQL text.
            reset_queries()
            done += size
            if count > SEED_CHUNK:
                self.stdout.write(f"  {done} / {count} customers")
        with transaction.atomic():
            self._seed_planted()

    def _seed_rows(self, ctx: SeedContext, ids: list[int], rows: SeedRows) -> None:
        """Insert a chunk: customers, addresses, tags, notes, orders, their summaries, events."""
        fields = {model: insert_fields(model, with_pk=False) for model in (Customer, Order)}
        rows_insert(model=Customer, fields=["id", *fields[Customer]], rows=rows.customers)
        rows_insert(
            model=Address, fields=insert_fields(Address, with_pk=False), rows=rows.addresses
        )
        rows_insert(model=TaggedCustomer, fields=("tag_id", "content_object_id"), rows=rows.links)
        rows_insert(model=Note, fields=insert_fields(Note, with_pk=False), rows=rows.notes)
        order_ids = ids_reserve(model=Order, count=len(rows.orders))
        order_rows, order_links = [], []
        for pk, (order, placed_at, shipping, tag_ids) in zip(order_ids, rows.orders, strict=True):
            order.pk = pk
            order_rows.append(
                (pk,)
                + ctx.row(
                    Order,
                    number=order.number,
                    customer_id=order.customer_id,
                    placed_at=placed_at,
                    total=order.total,
                    currency=order.currency,
                    source=order.source,
                    shipping_address=shipping,
                )
            )
            order_links.extend((tag_id, pk) for tag_id in tag_ids)
        rows_insert(model=Order, fields=["id", *fields[Order]], rows=order_rows)
        rows_insert(model=TaggedOrder, fields=("tag_id", "content_object_id"), rows=order_links)
        # What orders_record writes besides the orders: the summaries (already on the customer
        # rows) and the ORDER_RECORDED events. New customers need no lock nor merge-chain walk,
        # and their tags are known here.
        orders_recorded_events(actor="seed_demo", orders=rows.recorded)
        customers_created_events(actor="seed_demo", customer_ids=ids, source="seed_demo")

    def _seed_planted(self) -> None:
        """Records a merge should fold, with the addresses that make them duplicates."""
        curie_web, _curie_pos, dupont_home, dupont_work = Customer.objects.bulk_create(
            self._planted_duplicates()
        )
        Address.objects.bulk_create(
            [
                Address(
                    customer=curie_web,
                    address1="11 rue Pierre et Marie Curie",
                    city="Paris",
                    postal_code="75005",
                    country_code="FR",
                    is_default=True,
                ),
                Address(
                    customer=dupont_home,
                    address1="12, rue de la Paix",
                    city="Paris",
                    postal_code="75002",
                    country_code="FR",
                    is_default=True,
                ),
                Address(
                    customer=dupont_work,
                    address1="12 Rue de la  Paix",
                    city="PARIS",
                    postal_code="75002",
                    country_code="FR",
                    is_default=True,
                ),
            ]
        )
        customers_created_events(
            actor="seed_demo",
            customer_ids=[curie_web.pk, _curie_pos.pk, dupont_home.pk, dupont_work.pk],
            source="seed_demo",
        )
        duplicate_keys_refresh(
            customer_ids=[curie_web.pk, _curie_pos.pk, dupont_home.pk, dupont_work.pk]
        )

    def _planted_duplicates(self) -> list[Customer]:
        """Records a merge should fold: one phone written two ways, one address typed two ways."""
        planted = [
            # The same mobile typed "+33 6 12 34 56 78" on the web shop and "06 12 34 56 78" at
            # the till: both normalise to one E.164 number.
            Customer(
                first_name="Marie",
                last_name="Curie",
                email="marie.curie@example.fr",
                phone="+33612345678",
                source=Channel.SHOPIFY,
            ),
            Customer(
                first_name="Marie", last_name="Curie", phone="+33612345678", source=Channel.POS
            ),
            # ShipStation's case: two email addresses at one postal address.
            Customer(
                first_name="Jean",
                last_name="Dupont-Planted",
                email="jean@dupont.example",
                source=Channel.SHIPSTATION,
            ),
            Customer(
                first_name="J.",
                last_name="Dupont-Planted",
                email="jean.dupont@work.example",
                source=Channel.SHIPSTATION,
            ),
        ]
        return planted
