"""Changing the email, phone number or delivery address: a form (verification first), a confirmation, the CRM."""

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CrmClient, CrmRefused
from actions.customer import VerifiedCustomer, run_for_customer
from actions.parsing import clean_contact_value, find_contact_field, intent_name, parse_address
from actions.verification import IdentityValidation, forget_factors, identity_slots_needed, verification_stopped

FIELD_LABELS = {"email": "email address", "phone": "phone number", "address": "delivery address"}
FIELD_KEYS = {label: key for key, label in FIELD_LABELS.items()}
HINTS = {
    "email": "Please type it like name@example.com.",
    "phone": "Please give a UK number, e.g. 07700 900123 or +44 7700 900123.",
    "address": "Please write it on one line as street, town, postcode, e.g. 12 High Street, Leeds, LS1 4AP.",
}
CONTACT_SLOTS = ["contact_field", "contact_value"]
FORGET_CHANGE = [SlotSet("contact_field", None), SlotSet("contact_value", None)]


class ValidateContactDetailsForm(IdentityValidation, FormValidationAction):
    def name(self) -> str:
        return "validate_contact_details_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if tracker.get_slot("verification_status") in ("locked", "unavailable"):
            return []
        return identity_slots_needed(tracker) + CONTACT_SLOTS

    @staticmethod
    def _reads(tracker: Tracker, slot: str) -> bool:
        """A contact slot is read from the message that asked for it, or from the request that started the form."""
        started_here = intent_name(tracker.latest_message) == "update_contact_details" and not tracker.get_slot(slot)
        return tracker.get_slot("requested_slot") == slot or started_here

    async def extract_contact_field(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if not self._reads(tracker, "contact_field"):
            return {}
        field = find_contact_field(tracker.latest_message.get("text") or "")
        if field is None and tracker.get_slot("requested_slot") != "contact_field":
            return {}
        return {"contact_field": FIELD_LABELS.get(field or "")}

    async def extract_contact_value(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if not self._reads(tracker, "contact_value"):
            return {}
        text = tracker.latest_message.get("text") or ""
        if tracker.get_slot("requested_slot") != "contact_value":  # the first message: keep only a valid value
            field = FIELD_KEYS.get(tracker.get_slot("contact_field") or "")
            return {"contact_value": text} if field and clean_contact_value(field, text) else {}
        return {"contact_value": text}

    async def validate_contact_field(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if slot_value not in FIELD_KEYS:
            dispatcher.utter_message(response="utter_contact_field_not_understood")
            return {"contact_field": None}
        return {"contact_field": slot_value}

    async def validate_contact_value(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        field = FIELD_KEYS.get(tracker.get_slot("contact_field") or "")
        value = clean_contact_value(field, str(slot_value or "")) if field else None
        if value is None:
            if field:
                dispatcher.utter_message(response="utter_contact_value_invalid", contact_field=FIELD_LABELS[field], hint=HINTS[field])
            return {"contact_value": None}
        return {"contact_value": value}


class ActionConfirmContactChange(Action):
    """After the form: read the change back and ask for a yes before anything is written."""

    def name(self) -> str:
        return "action_confirm_contact_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        forget = forget_factors()
        if verification_stopped(dispatcher, tracker):
            return forget + FORGET_CHANGE + [SlotSet("verification_status", None)]
        dispatcher.utter_message(response="utter_confirm_contact_change", contact_field=tracker.get_slot("contact_field"),
                                 contact_value=tracker.get_slot("contact_value"))
        return forget + [SlotSet("pending_change", "contact")]


def contact_changes(field: str, value: str) -> dict[str, Any]:
    """The CRM's PATCH body for one changed detail."""
    if field == "address":
        line, city, postcode = parse_address(value) or ("", "", "")
        return {"address": {"line": line, "city": city, "postcode": postcode, "country": "United Kingdom"}}
    return {field: value}


async def answer_contact_change(dispatcher: CollectingDispatcher, tracker: Tracker, yes: bool) -> list[EventType]:
    label, value = tracker.get_slot("contact_field"), tracker.get_slot("contact_value")
    if not yes or label not in FIELD_KEYS or not value:
        dispatcher.utter_message(response="utter_contact_change_dropped")
        return FORGET_CHANGE

    async def change(dispatcher: CollectingDispatcher, customer: VerifiedCustomer) -> list[EventType]:
        try:
            result = await CrmClient().update_contact(customer_id=customer.id, token=customer.token,
                                                      changes=contact_changes(FIELD_KEYS[label], value))
        except CrmRefused as refusal:
            if refusal.code != "email_in_use":
                raise
            dispatcher.utter_message(response="utter_contact_email_in_use")
            return []
        response = "utter_contact_changed" if result["changed_fields"] else "utter_contact_unchanged"
        dispatcher.utter_message(response=response, contact_field=label, contact_value=value)
        return []

    return FORGET_CHANGE + await run_for_customer(dispatcher, tracker, change)
