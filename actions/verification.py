"""Identity verification form: an email or order number, then the postcode, checked by the CRM.

The form is activated for every request that touches account data; once the customer is
verified its ``required_slots`` is empty, so it completes at once and the request goes on.
"""

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CrmClient, CrmRefused, CrmUnavailable
from actions.parsing import clean_postcode, find_identifier
from actions.replies import say_crm_unavailable

IDENTITY_SLOTS = ["customer_identifier", "customer_postcode"]


class ValidateVerifyIdentityForm(FormValidationAction):
    def name(self) -> str:
        return "validate_verify_identity_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if tracker.get_slot("verified") or tracker.get_slot("verification_status") in ("locked", "unavailable"):
            return []
        return IDENTITY_SLOTS

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
        postcode = clean_postcode(str(slot_value or ""))
        if postcode is None:
            dispatcher.utter_message(response="utter_postcode_not_understood")
            return {"customer_postcode": None}
        try:
            verified = await CrmClient().verify(
                conversation_id=tracker.sender_id, identifier=tracker.get_slot("customer_identifier"), postcode=postcode
            )
        except CrmUnavailable:
            say_crm_unavailable(dispatcher)
            return {"customer_postcode": postcode, "verification_status": "unavailable"}
        except CrmRefused as refusal:
            if refusal.code == "verification_locked":
                return {"customer_postcode": postcode, "verification_status": "locked"}
            dispatcher.utter_message(
                response="utter_verification_failed", remaining=refusal.details.get("remaining_attempts", "a few")
            )
            return {"customer_identifier": None, "customer_postcode": None}
        return {
            "customer_postcode": postcode,
            "verified": True,
            "verification_status": "verified",
            "crm_token": verified["token"],
            "customer_id": float(verified["customer_id"]),
            "customer_first_name": verified["first_name"],
        }
