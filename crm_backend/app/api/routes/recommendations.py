"""Recommendations: for a verified customer, for a product (bought together, similar), popular ones, and a product
lookup by name so the assistant can turn "something like the oak chopping board" into a product id.

The routes and their dependencies are ``async``: each route's reads (and the model's work, which takes from
microseconds to a millisecond or two) run in one ``run_db`` call, on the event loop for SQLite, in the thread pool for
PostgreSQL; a synchronous route cost up to four thread-pool hops per request (dependencies, route, response check).
"""

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.api.db_io import run_db
from app.api.deps import CustomerAccessDep, ServiceCaller, SessionDep, SettingsDep
from app.api.errors import ApiError
from app.crud import products as products_crud
from app.ml import recs_data
from app.ml.recs_training import MODEL_NAME
from app.ml.shop_recs import Candidate, ShopRecommender, product_text
from app.ml.store import CurrentModel, ModelCard, ModelUnavailable
from app.models import Product
from app.schemas.recommendation import ProductMatch, Recommendation, RecommendationList

router = APIRouter(tags=["recommendations"])
current_model = CurrentModel(MODEL_NAME)
Count = Annotated[int, Query(ge=1, le=50, description="how many products to return")]
CANDIDATES_PER_RESULT = 2  # candidates ranked per product returned, to survive the stock filter


async def get_recommender(settings: SettingsDep) -> tuple[ShopRecommender, ModelCard]:
    """The model in memory; loading it (about 2 s, at the first request and after retraining) runs in the thread pool,
    so the worker keeps answering other requests meanwhile (``CurrentModel`` loads it once for concurrent requests)."""
    loaded = current_model.loaded(settings.models_dir)
    model, card = loaded if loaded is not None else await run_in_threadpool(current_model.get, settings.models_dir)
    if not isinstance(model, ShopRecommender):
        raise ModelUnavailable(f"the {MODEL_NAME} model file holds a {type(model).__name__}")
    return model, card


Recommender = Annotated[tuple[ShopRecommender, ModelCard], Depends(get_recommender)]


def _load_product(session: Session, product_id: int) -> Product:
    product = products_crud.get_product(session, product_id=product_id)
    if product is None:
        raise ApiError(404, "product_not_found", "No product with that id.")
    return product


async def get_product(product_id: int, session: SessionDep, _caller: ServiceCaller) -> Product:
    return await run_db(session, _load_product, session, product_id)


KnownProduct = Annotated[Product, Depends(get_product)]


def _text_of(product: Product) -> str:
    return product_text(product.name, product.category, product.description)


def _respond(session: Session, candidates: list[Candidate], k: int, card: ModelCard,
             exclude: int | None = None) -> RecommendationList:
    candidates = [c for c in candidates if c.product_id != exclude]
    chosen = recs_data.first_in_stock(session, candidates, k)
    return RecommendationList(model_version=card.version, recommendations=[
        Recommendation(product_id=p.id, sku=p.sku, name=p.name, category=p.category, price=p.price,
                       reason_code=c.reason.code, reason=c.reason.text, source_product_id=c.reason.source_product_id,
                       score=round(c.score, 4))
        for c, p in chosen
    ])


def _for_customer(session: Session, recommender: tuple[ShopRecommender, ModelCard], customer_id: int,
                  k: int) -> RecommendationList:
    model, card = recommender
    history = recs_data.customer_history(session, customer_id)
    today = recs_data.day_number(datetime.now(timezone.utc))
    return _respond(session, model.for_customer(history, today, k, CANDIDATES_PER_RESULT * k + 10), k, card)


@router.get("/customers/{customer_id}/recommendations")
async def for_customer(access: CustomerAccessDep, session: SessionDep, recommender: Recommender,
                       k: Count = 5) -> RecommendationList:
    """Products for this customer, each with the reason; never out of stock, never something they already have
    (a consumable they rebuy comes back when it is time to restock)."""
    return await run_db(session, _for_customer, session, recommender, access.customer.id, k)


ByIndex = Callable[[ShopRecommender, int, int], list[Candidate]]
ByText = Callable[[ShopRecommender, str, int], list[Candidate]]


def _related(product: Product, session: Session, recommender: tuple[ShopRecommender, ModelCard], k: int,
             by_index: ByIndex, by_text: ByText) -> RecommendationList:
    """Products related to this one: ``by_index`` for a product the model knows, ``by_text`` for a newer one."""
    model, card = recommender
    limit = CANDIDATES_PER_RESULT * k + 10
    index = model.index_of(product.id)
    candidates = by_index(model, index, limit) if index is not None else by_text(model, _text_of(product), limit)
    return _respond(session, candidates, k, card, exclude=product.id)


@router.get("/products/{product_id}/bought-together")
async def bought_together(product: KnownProduct, session: SessionDep, recommender: Recommender,
                          k: Count = 5) -> RecommendationList:
    """Products found in the same orders as this one more often than chance would have it."""
    return await run_db(session, _related, product, session, recommender, k,
                        ShopRecommender.bought_together_with, ShopRecommender.bought_together_with_text)


@router.get("/products/{product_id}/similar")
async def similar(product: KnownProduct, session: SessionDep, recommender: Recommender,
                  k: Count = 5) -> RecommendationList:
    """Products like this one: bought by the same customers, or described alike."""
    return await run_db(session, _related, product, session, recommender, k,
                        ShopRecommender.similar_to, ShopRecommender.similar_to_text)


@router.get("/recommendations/popular")
async def popular(_caller: ServiceCaller, session: SessionDep, recommender: Recommender,
                  category: Annotated[str | None, Query(max_length=80)] = None, k: Count = 5) -> RecommendationList:
    """Best sellers of late, overall or in one category (any case): for a customer who is not verified (yet)."""
    model, card = recommender
    if category is not None:
        by_lower = {name.lower(): name for name in model.popular_by_category}
        if category.strip().lower() not in by_lower:
            raise ApiError(404, "category_not_found", "No category with that name.", categories=sorted(by_lower.values()))
        category = by_lower[category.strip().lower()]
    return await run_db(session, _respond, session, model.popular(category, CANDIDATES_PER_RESULT * k + 10), k, card)


@router.get("/products")
async def find_products(_caller: ServiceCaller, session: SessionDep,
                        query: Annotated[str, Query(min_length=2, max_length=100, description="part of the name")],
                        limit: Annotated[int, Query(ge=1, le=20)] = 5) -> list[ProductMatch]:
    """Products whose name contains the text, names starting with it first."""
    found = await run_db(session, products_crud.find_by_name, session, fragment=query.strip(), limit=limit)
    return [ProductMatch(product_id=p.id, sku=p.sku, name=p.name, category=p.category, price=p.price,
                         in_stock=p.stock > 0)
            for p in found]
