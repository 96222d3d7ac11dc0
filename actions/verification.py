"""Identity verification: an email or order number, then the postcode or a one-time code, checked by the CRM.

Every request that touches account data goes through ``verify_identity_form`` (the contact-details form asks the
same two slots first). Once the customer is verified the identity slots are no longer required, so the form
completes at once and the request goes on; the customer stays bound to the conversation until it ends or the
CRM's token expires.
"""

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CrmClient, CrmRefused, CrmUnavailable
from actions.parsing import clean_postcode, find_identifier, find_one_time_code, wants_one_time_code
from actions.replies import say_crm_unavailable

IDENTITY_SLOTS = ["customer_identifier", "customer_postcode"]
FORGET_FACTORS = {"customer_identifier": None, "customer_postcode": None, "one_time_code_sent": False}


def forget_factors() -> list[SlotSet]:
    """Slot resets that drop the identifier and second factor once the verification form is over."""
    return [SlotSet(slot, value) for slot, value in FORGET_FACTORS.items()]


def verification_stopped(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """True when the form ended without a verification (locked out or CRM down); a locked customer is told why."""
    status = tracker.get_slot("verification_status")
    if status == "locked":
        dispatcher.utter_message(response="utter_verification_locked")
    return status in ("locked", "unavailable")


def identity_slots_needed(tracker: Tracker) -> list[str]:
    """The identity slots still to ask: none once verified, locked out, or when the CRM can't be reached."""
    if tracker.get_slot("verified") or tracker.get_slot("verification_status") in ("locked", "unavailable"):
        return []
    return IDENTITY_SLOTS


class IdentityValidation:
    """Validation of the identity slots, mixed into every form that starts with verification."""

    async def validate_customer_identifier(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        identifier = find_identifier(str(slot_value or ""))
        if identifier is None:
            dispatcher.utter_message(response="utter_identifier_not_understood")
        return {"customer_identifier": identifier}

    async def validate_customer_postcode(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(slot_value or "")
        postcode = clean_postcode(text)
        code = find_one_time_code(text) if tracker.get_slot("one_time_code_sent") else None
        if postcode is None and code is None:
            if wants_one_time_code(text):
                return await self._send_code(dispatcher, tracker)
            not_understood = "utter_code_not_understood" if tracker.get_slot("one_time_code_sent") else "utter_postcode_not_understood"
            dispatcher.utter_message(response=not_understood)
            return {"customer_postcode": None}
        try:
            verified = await CrmClient().verify(
                conversation_id=tracker.sender_id, identifier=tracker.get_slot("customer_identifier"),
                **({"postcode": postcode} if postcode else {"code": code}),
            )
        except CrmUnavailable:
            say_crm_unavailable(dispatcher)
            return {"customer_postcode": "-", "verification_status": "unavailable"}
        except CrmRefused as refusal:
            if refusal.code == "verification_locked":
                return {"customer_postcode": "-", "verification_status": "locked"}
            dispatcher.utter_message(
                response="utter_verification_failed", remaining=refusal.details.get("remaining_attempts", "a few")
            )
            return dict(FORGET_FACTORS)
        return {
            "customer_postcode": postcode or "code",
            "one_time_code_sent": False,
            "verified": True,
            "verification_status": "verified",
            "crm_token": verified["token"],
            "customer_id": float(verified["customer_id"]),
            "customer_first_name": verified["first_name"],
        }

    async def _send_code(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        try:
            await CrmClient().send_one_time_code(conversation_id=tracker.sender_id, identifier=tracker.get_slot("customer_identifier"))
        except CrmUnavailable:
            say_crm_unavailable(dispatcher)
            return {"customer_postcode": "-", "verification_status": "unavailable"}
        except CrmRefused:  # the only refusal here is a lockout
            return {"customer_postcode": "-", "verification_status": "locked"}
        dispatcher.utter_message(response="utter_code_sent")
        return {"customer_postcode": None, "one_time_code_sent": True}


class ValidateVerifyIdentityForm(IdentityValidation, FormValidationAction):
    def name(self) -> str:
        return "validate_verify_identity_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        return identity_slots_needed(tracker)
