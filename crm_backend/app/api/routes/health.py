from fastapi import APIRouter
from sqlalchemy import text

from app.api.deps import SessionDep
from app.api.errors import ApiError

router = APIRouter(tags=["health"])


@router.get("/health")
def health(session: SessionDep) -> dict[str, str]:
    """Anonymous liveness and database check, for supervisors and load balancers."""
    try:
        session.execute(text("SELECT 1"))
    except Exception as error:
        raise ApiError(503, "database_unavailable", "The CRM database is not reachable.") from error
    return {"status": "ok"}
