from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, StringConstraints, model_validator

from app.schemas.common import ConversationId, RequestModel

Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
Postcode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=20)]
OneTimeCodeText = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}$")]


class VerifyRequest(RequestModel):
    """An email or order number, plus exactly one second factor."""

    conversation_id: ConversationId
    identifier: Identifier
    postcode: Postcode | None = None
    code: OneTimeCodeText | None = None

    @model_validator(mode="after")
    def _exactly_one_factor(self) -> Self:
        if (self.postcode is None) == (self.code is None):
            raise ValueError("give exactly one second factor: postcode or code")
        return self


class VerifyResponse(BaseModel):
    token: str
    customer_id: int
    first_name: str
    expires_at: datetime


class OneTimeCodeRequest(RequestModel):
    conversation_id: ConversationId
    identifier: Identifier


class OneTimeCodeResponse(BaseModel):
    status: str = "sent_if_known"
    message: str = "If the details match an account, a code has been sent to its email address."
