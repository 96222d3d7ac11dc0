"""Made-up but realistic customers for the demo shop: names, reserved-domain emails, phones and UK addresses.

Emails use the reserved ``example.*`` domains and phones the UK's drama range, so no real person is ever addressed.
"""

import random
from dataclasses import dataclass

FIRST_NAMES = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Sophia", "Lily", "Freya", "Emily", "Ella", "Aisha", "Zara",
    "Priya", "Chloe", "Hannah", "Niamh", "Siobhan", "Fatima", "Maya", "Ruby", "Evie", "Poppy", "Leah", "Amara",
    "Oliver", "George", "Harry", "Noah", "Jack", "Leo", "Arthur", "Muhammad", "Oscar", "Charlie", "Jacob", "Thomas",
    "Samuel", "Ethan", "Rohan", "Arjun", "Kwame", "Tomasz", "Lukas", "Mateo", "Daniel", "Callum", "Finlay", "Owen",
    "Rhys", "Dylan", "Joseph", "Adam", "Yusuf", "Kai",
)
LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke", "Khan", "Ali",
    "Hughes", "Edwards", "Murphy", "O'Brien", "Kelly", "Campbell", "Stewart", "MacDonald", "Nowak", "Kowalski",
    "Okafor", "Mensah", "Singh", "Shah", "Chen", "Nguyen", "Rossi", "Garcia", "Morgan", "Price", "Lloyd", "Fraser",
)
STREETS = (
    "High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue", "Mill Lane", "Queen Street",
    "King's Road", "Green Lane", "Manor Road", "Orchard Close", "Chapel Street", "Meadow Way", "The Crescent",
    "Riverside Walk", "Elm Grove", "Albert Road", "York Street", "Bridge Street", "Castle Hill",
)
# Postcode area, city: real UK postcode areas, so addresses look and validate like real ones.
POSTCODE_AREAS = (
    ("SW", "London"), ("SE", "London"), ("N", "London"), ("E", "London"), ("M", "Manchester"), ("B", "Birmingham"),
    ("LS", "Leeds"), ("L", "Liverpool"), ("BS", "Bristol"), ("NE", "Newcastle upon Tyne"), ("S", "Sheffield"),
    ("NG", "Nottingham"), ("CF", "Cardiff"), ("EH", "Edinburgh"), ("G", "Glasgow"), ("BT", "Belfast"),
    ("OX", "Oxford"), ("CB", "Cambridge"), ("BN", "Brighton"), ("YO", "York"), ("EX", "Exeter"), ("AB", "Aberdeen"),
)
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # letters used in the inward part of UK postcodes
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    phone: str
    address_line: str
    city: str
    postcode: str
    country: str = "United Kingdom"


def _postcode(rng: random.Random, area: str) -> str:
    inward = f"{rng.randint(0, 9)}{rng.choice(INWARD_LETTERS)}{rng.choice(INWARD_LETTERS)}"
    return f"{area}{rng.randint(1, 20)} {inward}"


def make_person(rng: random.Random, number: int) -> Person:
    """A customer; ``number`` makes the email unique."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    area, city = rng.choice(POSTCODE_AREAS)
    local = f"{first}.{last}".lower().replace("'", "")
    return Person(
        name=f"{first} {last}",
        email=f"{local}{number}@{rng.choice(EMAIL_DOMAINS)}",
        phone=f"+44 7700 900{rng.randint(0, 999):03d}",
        address_line=f"{rng.randint(1, 220)} {rng.choice(STREETS)}",
        city=city,
        postcode=_postcode(rng, area),
    )
