"""The catalogue as spaCy entity-ruler patterns, for the bot's NLU (``crm export-catalog-patterns PATH``).

One JSON object a line: ``{"label": "product" | "category", "pattern": text, "id": catalogue spelling}``. A
product gets its full name ("Nordic Yoga Mat, Black") and its name without the variant ("Nordic Yoga Mat"); a
category gets its name, and its name with "and" for "&". The bot's entity ruler matches them on lemmas (case and
plural insensitive) and reports the ``id`` as the entity's value.
"""

import json
import os
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.catalog import Product


def patterns_for(products: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """Sorted, de-duplicated patterns for ``(name, category)`` pairs."""
    patterns: set[tuple[str, str, str]] = set()
    for name, category in products:
        for product in {name, name.split(", ")[0]}:
            patterns.add(("product", product, product))
        for spelling in {category, category.replace(" & ", " and ")}:
            patterns.add(("category", spelling, category))
    return [{"label": label, "pattern": pattern, "id": canonical} for label, pattern, canonical in sorted(patterns)]


def export_catalog_patterns(session: Session, path: Path) -> int:
    """Writes the patterns of every product in the database to ``path`` (atomically); returns how many."""
    patterns = patterns_for(session.execute(select(Product.name, Product.category)).tuples())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(json.dumps(pattern, ensure_ascii=False) + "\n" for pattern in patterns),
                       encoding="utf-8")
    os.replace(partial, path)
    return len(patterns)
