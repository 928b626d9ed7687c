"""Fill the back office with realistic demo customers, groups, tags, notes and orders."""

from __future__ import annotations

import random
import time
import unicodedata
from datetime import timedelta
from decimal import Decimal

import phonenumbers
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from customers.audit.events import customers_created_events
from customers.models import (
    Address,
    Channel,
    Consent,
    ConsentSource,
    Customer,
    CustomerEvent,
    Note,
    Order,
    Tag,
    TaggedCustomer,
    TaggedOrder,
)
from customers.services.orders import orders_record
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
            with transaction.atomic():
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
        TaggedOrder.objects.all().delete()
        Order.objects.all().delete()
        CustomerEvent.objects.all().delete()
        # Absorbed records point at their survivor; unlink them before deleting.
        Customer.objects.update(merged_into=None, status="active")
        Customer.objects.all().delete()
        Tag.objects.all().delete()
        CustomerGroup.objects.all().delete()

    def _seed(self, count: int, rng: random.Random, demo) -> None:
        now = timezone.now()
        groups = [
            CustomerGroup.objects.get_or_create(
                name=name, defaults={"description": desc, "discount_percent": discount}
            )[0]
            for name, desc, discount in GROUPS
        ]
        tags = []
        for name in TAGS:
            tag = Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name)
            tags.append(tag)
        pools = {region: _phone_pool(region, rng) for region in COUNTRIES}
        regions = list(COUNTRY_WEIGHTS)
        weights = list(COUNTRY_WEIGHTS.values())

        plans = []
        rows = []
        for i in range(count):
            region = rng.choices(regions, weights)[0]
            firsts, lasts, places, currency = COUNTRIES[region]
            first, last = rng.choice(firsts), rng.choice(lasts)
            local = _ascii(first) + "." + _ascii(last) if _ascii(first + last) else "client"
            has_email = rng.random() > 0.04
            email = f"{local}{i}@example.{region.lower()}" if has_email else ""
            phone = rng.choice(pools[region]) if (rng.random() < 0.7 or not email) else ""
            email_consent = rng.choices(list(Consent.values), [55, 35, 10])[0]
            sms_consent = rng.choices(list(Consent.values), [75, 20, 5])[0]
            created = now - timedelta(days=rng.randrange(3 * 365), minutes=rng.randrange(1440))
            status = "archived" if rng.random() < 0.02 else "active"
            rows.append(
                Customer(
                    first_name=first,
                    last_name=last,
                    email=email,
                    phone=phone,
                    date_of_birth=(now - timedelta(days=rng.randrange(18 * 365, 80 * 365))).date()
                    if rng.random() < 0.4
                    else None,
                    company=f"{last} & Cie" if rng.random() < 0.1 else "",
                    username=f"ss-{i:06d}" if rng.random() < 0.15 else "",
                    email_consent=email_consent,
                    email_consent_updated_at=created if email_consent != "not_subscribed" else None,
                    email_consent_source=ConsentSource.IMPORT
                    if email_consent != "not_subscribed"
                    else "",
                    sms_consent=sms_consent,
                    sms_consent_updated_at=created if sms_consent != "not_subscribed" else None,
                    sms_consent_source=ConsentSource.IMPORT
                    if sms_consent != "not_subscribed"
                    else "",
                    tax_exempt=rng.random() < 0.05,
                    group=rng.choice(groups) if rng.random() < 0.3 else None,
                    source=rng.choices(list(Channel.values), [20, 20, 35, 10, 10, 5])[0],
                    status=status,
                    has_active_subscription=rng.random() < 0.05,
                    erasure_requested_at=now - timedelta(days=3) if rng.random() < 0.005 else None,
                    created_at=created,
                )
            )
            plans.append((region, places, currency))
        rows.extend(self._planted_duplicates())
        plans.extend([("FR", COUNTRIES["FR"][2], "EUR")] * (len(rows) - len(plans)))
        created_customers = Customer.objects.bulk_create(rows, batch_size=BATCH)

        addresses, links, notes, orders = [], [], [], []
        order_no = 1000
        for customer, (region, places, currency) in zip(created_customers, plans, strict=True):
            if customer.last_name in ("Dupont-Planted", "Curie"):
                continue
            city, province, postal, street = rng.choice(places)
            addresses.append(
                Address(
                    customer=customer,
                    address1=f"{rng.randrange(1, 200)} {street}",
                    city=city,
                    province_code=province,
                    postal_code=postal,
                    country_code=region,
                    phone=customer.phone,
                    is_default=True,
                )
            )
            if rng.random() < 0.2:
                city, province, postal, street = rng.choice(places)
                addresses.append(
                    Address(
                        customer=customer,
                        company="Bureau",
                        address1=f"{rng.randrange(1, 90)} {street}",
                        address2="2e étage" if region == "FR" else "",
                        city=city,
                        province_code=province,
                        postal_code=postal,
                        country_code=region,
                    )
                )
            for tag in rng.sample(tags, rng.choices([0, 1, 2, 3], [40, 35, 18, 7])[0]):
                links.append(TaggedCustomer(content_object=customer, tag=tag))
            if rng.random() < 0.1:
                notes.append(
                    Note(
                        customer=customer,
                        author=demo,
                        body=rng.choice(NOTES),
                        created_at=customer.created_at + timedelta(days=1),
                    )
                )
            if rng.random() < 0.65:
                for _ in range(rng.choices([1, 2, 3, 5, 8], [40, 25, 15, 12, 8])[0]):
                    order_no += 1
                    placed = customer.created_at + timedelta(
                        days=rng.randrange(max(1, (now - customer.created_at).days))
                    )
                    orders.append(
                        Order(
                            number=f"#{order_no}",
                            customer=customer,
                            placed_at=placed,
                            total=Decimal(rng.randrange(900, 45000)) / 100,
                            currency=currency,
                            source=customer.source
                            if customer.source not in ("manual", "csv")
                            else "shopify",
                            shipping_address={
                                "name": customer.full_name,
                                "address1": "—",
                                "city": city,
                                "country_code": region,
                                "postal_code": postal,
                            },
                        )
                    )
        curie_web, curie_pos, dupont_home, dupont_work = created_customers[-4:]
        addresses += [
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
        # The store's one valid US military address.
        addresses.append(
            Address(
                customer=created_customers[0],
                address1="PSC 1234 BOX 5678",
                city="APO",
                province_code="AE",
                postal_code="09012",
                country_code="US",
                is_default=False,
            )
        )
        Address.objects.bulk_create(addresses, batch_size=BATCH)
        TaggedCustomer.objects.bulk_create(links, batch_size=BATCH, ignore_conflicts=True)
        Note.objects.bulk_create(notes, batch_size=BATCH)
        orders_record(actor="seed_demo", orders=orders)
        customers_created_events(
            actor="seed_demo",
            customer_ids=[c.pk for c in created_customers],
            source="seed_demo",
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
