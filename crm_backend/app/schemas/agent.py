from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, StringConstraints

from app.schemas.common import RequestModel


class AgentLogin(RequestModel):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class AgentPublic(BaseModel):
    id: int
    username: str
    display_name: str
    last_seen_at: datetime | None
    online: bool


class AgentToken(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime
    agent: AgentPublic
