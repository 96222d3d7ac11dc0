from decimal import Decimal

from pydantic import BaseModel


class Recommendation(BaseModel):
    product_id: int
    sku: str
    name: str
    category: str
    price: Decimal
    reason_code: str  # restock, bought_together, also_bought, bought_next, popular_in_category, popular, similar_...
    reason: str  # a sentence the assistant can say as it is
    source_product_id: int | None  # the product the reason names, if any
    score: float


class RecommendationList(BaseModel):
    recommendations: list[Recommendation]
    model_version: str


class ProductMatch(BaseModel):
    product_id: int
    sku: str
    name: str
    category: str
    price: Decimal
    in_stock: bool
