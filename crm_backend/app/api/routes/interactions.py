from fastapi import APIRouter, status

from app.api.deps import ActionsOnly, OptionalClaims, SessionDep
from app.crud import support as support_crud
from app.schemas.support import InteractionCreate, InteractionPublic

router = APIRouter(prefix="/interactions", tags=["interactions"])


@router.post("", status_code=status.HTTP_201_CREATED)
def log_interaction(
    body: InteractionCreate, session: SessionDep, _caller: ActionsOnly, claims: OptionalClaims
) -> InteractionPublic:
    """Log one customer message with its intent and sentiment; attributed to the customer only with their token.
    While the conversation is handed over (open ticket), the message is also added to the ticket for the agent."""
    customer_id = claims.customer_id if claims else None
    interaction = support_crud.log_interaction(session, data=body, customer_id=customer_id)
    return InteractionPublic.model_validate(interaction, from_attributes=True)
