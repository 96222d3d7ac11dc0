"""The demo shop's catalogue: categories of real-looking products, with prices, descriptions and complements.

Products are built from a base item of a category, a qualifier and a variant ("Everyday Chef's Knife, 20 cm"), so
that the catalogue can grow from a few hundred products to tens of thousands while staying readable. Each base item
knows which items it is bought with, so the order generator can produce "bought together" baskets.
"""

import random
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class BaseItem:
    noun: str
    price_range: tuple[float, float]
    consumable: bool = False


@dataclass(frozen=True)
class Category:
    name: str
    items: tuple[BaseItem, ...]
    variants: tuple[str, ...]
    features: tuple[str, ...]
    related: tuple[str, ...]


def _items(*specs: tuple) -> tuple[BaseItem, ...]:
    return tuple(BaseItem(*spec) for spec in specs)


CATEGORIES: tuple[Category, ...] = (
    Category(
        "Kitchen & Dining",
        _items(("Chef's Knife", (24, 89)), ("Frying Pan", (19, 65)), ("Saucepan Set", (45, 160)),
               ("Casserole Dish", (35, 120)), ("Chopping Board", (9, 35)), ("Mixing Bowl Set", (14, 40)),
               ("Dinner Plate Set", (25, 75)), ("Mug Set", (12, 36)), ("Storage Jar Set", (10, 32)),
               ("Baking Tray", (8, 25)), ("Cafetière", (15, 45)), ("Kitchen Roll Pack", (4, 9), True)),
        ("20 cm", "24 cm", "28 cm", "Charcoal", "Sage Green", "Cream", "Navy", "Terracotta", "Stainless Steel",
         "Oak", "Slate Grey", "Duck Egg Blue"),
        ("Dishwasher safe and built for daily use.", "Suitable for all hobs, including induction.",
         "Made from responsibly sourced materials.", "Backed by a five-year guarantee.",
         "Balanced, comfortable handles that stay cool.", "Stacks neatly to save cupboard space."),
        ("Coffee & Tea", "Home & Living"),
    ),
    Category(
        "Coffee & Tea",
        _items(("Ground Coffee 250 g", (4, 9), True), ("Coffee Beans 1 kg", (14, 28), True),
               ("Green Tea Bags x80", (3, 7), True), ("Breakfast Tea Bags x160", (4, 8), True),
               ("Hot Chocolate 400 g", (4, 9), True), ("Coffee Pods x30", (6, 12), True),
               ("Herbal Tea Selection", (5, 10), True), ("Chai Spice Blend", (5, 11), True),
               ("Tea Infuser", (6, 15)), ("Milk Frother", (18, 60))),
        ("Original", "Decaf", "Colombian", "Ethiopian", "Organic", "Fairtrade", "Vanilla", "Caramel",
         "Earl Grey", "Peppermint", "Dark Roast", "Light Roast"),
        ("Roasted in small batches for a rounder flavour.", "Fully recyclable packaging.",
         "Ethically sourced from family farms.", "A smooth, everyday cup.",
         "Resealable pack keeps it fresh for weeks.", "Rainforest Alliance certified."),
        ("Kitchen & Dining",),
    ),
    Category(
        "Home & Living",
        _items(("Cushion Cover", (9, 25)), ("Throw Blanket", (22, 70)), ("Scented Candle", (8, 28), True),
               ("Photo Frame", (7, 30)), ("Table Lamp", (25, 95)), ("Wall Clock", (18, 60)),
               ("Storage Basket", (12, 38)), ("Doormat", (12, 35)), ("Ceramic Vase", (14, 55)),
               ("Reed Diffuser", (12, 30), True)),
        ("Ochre", "Sage Green", "Oat", "Navy", "Blush Pink", "Charcoal", "Ivory", "Mustard", "Teal", "Rust",
         "Linen", "Black"),
        ("Soft-touch fabric that washes well.", "Adds warmth to any living room.",
         "Designed in our Bristol studio.", "Hand-finished, so each one is a little different.",
         "Pairs with the rest of the collection.", "Long-lasting fragrance of fig and cedar."),
        ("Bath & Body", "Kitchen & Dining"),
    ),
    Category(
        "Bath & Body",
        _items(("Shower Gel 500 ml", (3, 9), True), ("Shampoo 400 ml", (4, 11), True),
               ("Conditioner 400 ml", (4, 11), True), ("Hand Soap Refill 1 L", (5, 12), True),
               ("Body Lotion", (6, 16), True), ("Toothbrush Heads x4", (9, 20), True),
               ("Bath Towel Set", (20, 60)), ("Bath Mat", (10, 28)), ("Wash Bag", (12, 30))),
        ("Lavender", "Eucalyptus", "Citrus", "Unscented", "Coconut", "Rose", "Sensitive", "Mint", "Aloe",
         "Sea Salt", "White", "Grey"),
        ("Vegan and cruelty-free.", "Gentle enough for sensitive skin.", "Bottle made from recycled plastic.",
         "Dermatologically tested.", "Free from parabens and sulphates.", "Soft, absorbent cotton."),
        ("Home & Living",),
    ),
    Category(
        "Garden & Outdoor",
        _items(("Garden Hose 25 m", (20, 55)), ("Pruning Shears", (12, 40)), ("Plant Pot", (6, 30)),
               ("Bird Feeder", (10, 35)), ("Wild Bird Seed 2 kg", (5, 12), True), ("Solar Lights x10", (15, 40)),
               ("Gardening Gloves", (6, 18)), ("Peat-free Compost 40 L", (7, 12), True), ("Garden Parasol", (40, 130)),
               ("Lawn Feed 5 kg", (12, 25), True)),
        ("Small", "Medium", "Large", "Green", "Terracotta", "Anthracite", "Natural", "Stone", "Black",
         "Heavy Duty", "Compact", "Weatherproof"),
        ("Weather resistant for year-round use.", "Loved by gardeners and wildlife alike.",
         "UV-stabilised so colours do not fade.", "Lightweight and easy to store.",
         "Peat-free and kind to the environment.", "Tested through two British winters."),
        ("Pet Supplies",),
    ),
    Category(
        "Electronics & Accessories",
        _items(("USB-C Cable 2 m", (6, 18)), ("Wireless Charger", (15, 45)), ("Bluetooth Speaker", (25, 120)),
               ("Over-ear Headphones", (35, 180)), ("Power Bank 20000 mAh", (20, 50)), ("Phone Case", (8, 30)),
               ("Screen Protector x2", (6, 15)), ("Smart Plug", (10, 25)), ("AA Batteries x12", (5, 12), True),
               ("Laptop Stand", (20, 55))),
        ("Black", "White", "Graphite", "Silver", "Midnight Blue", "Rose Gold", "Forest Green", "Sand",
         "Fast Charge", "Braided", "Slim", "Pro"),
        ("Works with iPhone and Android devices.", "Certified safe charging with overheat protection.",
         "Two-year warranty included.", "Compact enough for any bag.", "Long battery life for busy days.",
         "Plug and play, no app needed."),
        ("Stationery & Office", "Sports & Fitness"),
    ),
    Category(
        "Toys & Games",
        _items(("Jigsaw Puzzle 1000 Pieces", (10, 25)), ("Family Board Game", (18, 45)),
               ("Building Blocks Set", (15, 80)), ("Plush Toy", (8, 25)), ("Card Game", (7, 18)),
               ("Stunt Kite", (12, 40)), ("Craft Kit", (10, 30)), ("Wooden Train Set", (25, 70))),
        ("Ages 3+", "Ages 6+", "Ages 8+", "Ages 12+", "Rainbow", "Dinosaur", "Space", "Ocean", "Woodland",
         "Classic", "Travel Size", "Deluxe"),
        ("Hours of screen-free fun for the whole family.", "Tested to UK toy safety standards.",
         "Made from sustainable wood and card.", "Great as a birthday present.",
         "Develops problem solving and creativity.", "Easy rules, quick to learn."),
        ("Stationery & Office",),
    ),
    Category(
        "Pet Supplies",
        _items(("Dry Dog Food 12 kg", (30, 60), True), ("Cat Litter 10 L", (6, 14), True),
               ("Cat Food Pouches x48", (14, 28), True), ("Dog Poo Bags x300", (5, 10), True),
               ("Dog Lead", (8, 25)), ("Pet Bed", (20, 75)), ("Cat Scratching Post", (15, 60)),
               ("Chew Toy", (4, 12)), ("Pet Grooming Brush", (7, 18))),
        ("Chicken", "Salmon", "Lamb", "Grain Free", "Puppy", "Senior", "Small", "Medium", "Large", "Grey",
         "Tan", "Navy"),
        ("Vet approved.", "Complete nutrition with no artificial colours.", "Machine washable cover.",
         "Durable enough for enthusiastic chewers.", "Compostable and leak-proof.",
         "Helps keep coats healthy and shiny."),
        ("Garden & Outdoor",),
    ),
    Category(
        "Stationery & Office",
        _items(("A5 Notebook", (4, 15)), ("Gel Pens x10", (5, 12), True), ("Desk Organiser", (12, 35)),
               ("Printer Paper 500 Sheets", (5, 9), True), ("Laptop Backpack", (30, 85)), ("Desk Lamp", (18, 60)),
               ("Sticky Notes x12", (4, 9), True), ("Wall Planner", (6, 16))),
        ("Black", "Navy", "Sage", "Lilac", "Dotted", "Lined", "Plain", "Recycled", "Bamboo", "Kraft",
         "Pastel", "Executive"),
        ("Smooth 100 gsm paper that stops ink bleeding through.", "Keeps your desk tidy and calm.",
         "Made from recycled materials.", "Fits a 15-inch laptop.", "Adjustable arm and warm light.",
         "Perfect for planning the week ahead."),
        ("Electronics & Accessories", "Toys & Games"),
    ),
    Category(
        "Sports & Fitness",
        _items(("Yoga Mat", (15, 50)), ("Resistance Bands Set", (10, 30)), ("Insulated Water Bottle", (12, 30)),
               ("Dumbbell Pair", (20, 80)), ("Running Socks x3", (9, 18), True), ("Whey Protein 1 kg", (18, 35), True),
               ("Foam Roller", (12, 35)), ("Skipping Rope", (6, 18)), ("Gym Towel", (8, 20))),
        ("Black", "Purple", "Teal", "Coral", "Grey", "Chocolate", "Vanilla", "Strawberry", "2 kg", "5 kg",
         "Small", "Large"),
        ("Non-slip grip for confident training.", "Sweat resistant and easy to clean.",
         "Keeps drinks cold for 24 hours.", "Recommended by personal trainers.",
         "Informed Sport certified.", "Light enough to take anywhere."),
        ("Electronics & Accessories",),
    ),
)

QUALIFIERS = ("Everyday", "Classic", "Premium", "Eco", "Compact", "Deluxe", "Heritage", "Urban", "Essential",
              "Studio", "Nordic", "Signature")
OUT_OF_STOCK_SHARE = 0.04


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    category: str
    description: str
    price: Decimal
    stock: int
    is_consumable: bool
    base_item: str
    popularity: float


def _price(rng: random.Random, item: BaseItem, qualifier: str) -> Decimal:
    low, high = item.price_range
    premium = 1.25 if qualifier in ("Premium", "Deluxe", "Signature") else 1.0
    pounds = int(rng.uniform(low, high) * premium)
    return Decimal(f"{max(pounds, 1)}.{rng.choice(('99', '49', '00', '95'))}")


def _description(rng: random.Random, category: Category, item: BaseItem, qualifier: str, variant: str) -> str:
    first, second = rng.sample(category.features, 2)
    return f"{qualifier} {item.noun.lower()} in {variant.lower()}. {first} {second}"


def build_catalog(count: int, rng: random.Random) -> list[DemoProduct]:
    """``count`` distinct products, spread over every base item of every category, most popular first per item."""
    deepest = max(len(category.items) for category in CATEGORIES)
    slots = [(category, category.items[depth]) for depth in range(deepest) for category in CATEGORIES
             if depth < len(category.items)]  # every category first, so a small catalogue still has them all
    combos = {item.noun: [(q, v) for q in QUALIFIERS for v in category.variants] for category, item in slots}
    capacity = sum(len(c) for c in combos.values())
    if count > capacity:
        raise ValueError(f"the demo catalogue has room for {capacity} products, {count} asked for")
    for combo_list in combos.values():
        rng.shuffle(combo_list)
    products = []
    for index in range(count):
        category, item = slots[index % len(slots)]
        rank = index // len(slots)
        qualifier, variant = combos[item.noun][rank]
        products.append(DemoProduct(
            sku=f"{category.name[:3].upper()}-{index + 1:05d}",
            name=f"{qualifier} {item.noun}, {variant}",
            category=category.name,
            description=_description(rng, category, item, qualifier, variant),
            price=_price(rng, item, qualifier),
            stock=0 if rng.random() < OUT_OF_STOCK_SHARE else rng.randint(5, 400),
            is_consumable=item.consumable,
            base_item=item.noun,
            popularity=rng.paretovariate(1.2) / (1 + rank) ** 0.6,
        ))
    return products


def category_by_name() -> dict[str, Category]:
    return {category.name: category for category in CATEGORIES}
