from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session

from app.models import Product

# Built once, with bound parameters (like the hot customer and order queries): building a statement per call costs
# more Python time than SQLite takes to find a product by id.
_PRODUCT_BY_ID = select(Product).where(Product.id == bindparam("product_id"))
_LOWER_NAME = func.lower(Product.name)
_PRODUCTS_BY_NAME = (
    select(Product)
    .where(_LOWER_NAME.like(bindparam("contains"), escape="\\"))
    .order_by(case((_LOWER_NAME.like(bindparam("starts"), escape="\\"), 0), else_=1), func.length(Product.name),
              Product.id)
    .limit(bindparam("limit"))
)


def get_product(session: Session, *, product_id: int) -> Product | None:
    """Like ``session.get``, which builds its query on every call, for the per-request lookup."""
    return session.scalars(_PRODUCT_BY_ID, {"product_id": product_id}).one_or_none()


def find_by_name(session: Session, *, fragment: str, limit: int) -> list[Product]:
    """Products whose name contains ``fragment`` (any case): names starting with it first, then the shortest."""
    pattern = fragment.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    parameters = {"contains": f"%{pattern}%", "starts": f"{pattern}%", "limit": limit}
    return list(session.scalars(_PRODUCTS_BY_NAME, parameters))
