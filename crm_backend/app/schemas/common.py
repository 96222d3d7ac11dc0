from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

ConversationId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[\w.:@-]+$")
]
MessageText = Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class RequestModel(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody
