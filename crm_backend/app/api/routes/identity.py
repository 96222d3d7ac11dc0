from fastapi import APIRouter, status

from app.api.deps import ActionsOnly, SessionDep, SettingsDep
from app.api.errors import ApiError
from app.schemas.identity import OneTimeCodeRequest, OneTimeCodeResponse, VerifyRequest, VerifyResponse
from app.services.identity import VerificationFailed, VerificationLocked, send_one_time_code, verify_identity

router = APIRouter(prefix="/identity", tags=["identity"])


def _locked(error: VerificationLocked) -> ApiError:
    return ApiError(
        429,
        "verification_locked",
        "Too many failed attempts. Please wait before trying again, or ask for a human agent.",
        headers={"Retry-After": str(error.retry_after_seconds)},
        retry_after_seconds=error.retry_after_seconds,
    )


@router.post("/verify", responses={401: {}, 429: {}})
def verify(body: VerifyRequest, session: SessionDep, settings: SettingsDep, _caller: ActionsOnly) -> VerifyResponse:
    """Exchange an email or order number plus a postcode or one-time code for a short-lived customer token."""
    try:
        verified = verify_identity(
            session, settings, conversation_id=body.conversation_id, identifier=body.identifier, postcode=body.postcode, code=body.code
        )
    except VerificationLocked as error:
        raise _locked(error) from error
    except VerificationFailed as error:
        raise ApiError(
            401,
            "verification_failed",
            "Those details do not match our records.",
            remaining_attempts=error.remaining_attempts,
        ) from error
    return VerifyResponse(
        token=verified.token,
        customer_id=verified.customer.id,
        first_name=verified.customer.name.split()[0],
        expires_at=verified.expires_at,
    )


@router.post("/one-time-code", status_code=status.HTTP_202_ACCEPTED, responses={429: {}})
def request_one_time_code(
    body: OneTimeCodeRequest, session: SessionDep, settings: SettingsDep, _caller: ActionsOnly
) -> OneTimeCodeResponse:
    """Send a one-time code to the account's email; the answer is the same whether the account exists or not."""
    try:
        send_one_time_code(session, settings, conversation_id=body.conversation_id, identifier=body.identifier)
    except VerificationLocked as error:
        raise _locked(error) from error
    return OneTimeCodeResponse()
