from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.models import Product


def find_by_name(session: Session, *, fragment: str, limit: int) -> list[Product]:
    """Products whose name contains ``fragment`` (any case): names starting with it first, then the shortest."""
    pattern = fragment.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    name = func.lower(Product.name)
    starts = case((name.like(f"{pattern}%", escape="\\"), 0), else_=1)
    query = (select(Product).where(name.like(f"%{pattern}%", escape="\\"))
             .order_by(starts, func.length(Product.name), Product.id).limit(limit))
    return list(session.scalars(query))
