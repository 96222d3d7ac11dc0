from fastapi import APIRouter, Response, status

from app.api.deps import ActionsOnly, OptionalClaims, SessionDep, SettingsDep
from app.core.security import InvalidTokenError, read_customer_token
from app.crud import support as support_crud
from app.schemas.support import (InteractionBatch, InteractionBatchLogged, InteractionCreate, InteractionPublic,
                                 LoggedInteraction)

router = APIRouter(prefix="/interactions", tags=["interactions"])


@router.post("", status_code=status.HTTP_201_CREATED, responses={200: {"description": "already logged: nothing done"}})
def log_interaction(
    body: InteractionCreate, session: SessionDep, _caller: ActionsOnly, claims: OptionalClaims, response: Response
) -> InteractionPublic:
    """Log one customer message with its intent and sentiment; attributed to the customer only with their token.
    While the conversation is handed over (open ticket), the message is also added to the ticket for the agent.
    A ``message_id`` the conversation has logged before is not logged again: the answer is the logged message, 200."""
    customer_id = claims.customer_id if claims else None
    interaction, new = support_crud.log_interaction(session, data=body, customer_id=customer_id)
    if not new:
        response.status_code = status.HTTP_200_OK
    return InteractionPublic.model_validate(interaction, from_attributes=True)


@router.post("/batch", status_code=status.HTTP_201_CREATED)
def log_interaction_batch(
    body: InteractionBatch, session: SessionDep, settings: SettingsDep, _caller: ActionsOnly
) -> InteractionBatchLogged:
    """Log several customer messages in their order, in one transaction, as ``POST /interactions`` logs one: each is
    attributed to the customer of its ``customer_token`` if that token was issued in the message's conversation; one
    whose token is no longer valid (a verification that expired) or from another conversation is logged without the
    customer. A ``message_id`` the conversation has logged before (e.g. a batch sent again after a timeout) is not
    logged again and is not an error: the counts are of the new messages. The bot's interaction log sends its messages
    this way."""
    secret = settings.token_secret.get_secret_value()
    messages = [(message, customer_of(secret, message)) for message in body.interactions]
    new = support_crud.log_interactions(session, messages)
    return InteractionBatchLogged(logged=len(new), already_logged=len(messages) - len(new),
                                  attributed=sum(customer is not None for _, customer in new))


def customer_of(secret: str, message: LoggedInteraction) -> int | None:
    if message.customer_token is None:
        return None
    try:
        claims = read_customer_token(secret, message.customer_token)
    except InvalidTokenError:
        return None
    return claims.customer_id if claims.conversation_id == message.conversation_id else None
