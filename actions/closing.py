"""Closing an account: one retention offer for a valuable customer likely to leave, then the customer's decision.

The offer (text and thresholds in ``actions.config``) is made at most once per conversation; its outcome and the
closure are recorded in the CRM. Without the churn or segment endpoints, or when they fail, no offer is made.
"""

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.config import get_action_settings
from actions.crm_client import CrmClient, CrmRefused, CrmUnavailable
from actions.customer import VerifiedCustomer, forget_verification
from actions.parsing import bot_said

CLOSE_REASON = "asked the assistant to close the account"


async def worth_a_retention_offer(customer: VerifiedCustomer) -> bool:
    """Likely to leave (churn probability) and valuable (expected value), by the CRM's models."""
    settings = get_action_settings()
    client = CrmClient()
    try:
        risk = await client.churn_risk(customer_id=customer.id, token=customer.token)
        if risk.get("probability") is None or risk["probability"] < settings.retention_min_churn_probability:
            return False  # not scored (no orders, closed) or not at risk
        segment = await client.segment(customer_id=customer.id, token=customer.token)
    except (CrmUnavailable, CrmRefused, KeyError, TypeError, ValueError):
        return False
    return float(segment.get("expected_value") or 0) >= settings.retention_min_expected_value


async def ask_to_close(dispatcher: CollectingDispatcher, customer: VerifiedCustomer, tracker: Tracker) -> list[EventType]:
    summary = await CrmClient().account_summary(customer_id=customer.id, token=customer.token)
    if summary["account_status"] == "closed":
        dispatcher.utter_message(response="utter_account_already_closed")
        return []
    if summary["open_order_count"]:
        dispatcher.utter_message(response="utter_account_has_open_orders")
        return []
    if not bot_said(tracker.events, "utter_retention_offer") and await worth_a_retention_offer(customer):
        dispatcher.utter_message(response="utter_retention_offer", offer_text=get_action_settings().retention_offer_text)
        return [SlotSet("pending_change", "retention")]
    dispatcher.utter_message(response="utter_confirm_close")
    return [SlotSet("pending_change", "close")]


async def answer_retention_offer(dispatcher: CollectingDispatcher, customer: VerifiedCustomer, _argument: str, yes: bool) -> list[EventType]:
    """Taking the offer keeps the account; declining it is the decision to close, respected at once."""
    await CrmClient().record_retention_offer(customer_id=customer.id, token=customer.token,
                                             offer=get_action_settings().retention_offer_text[:100], accepted=yes)
    if yes:
        dispatcher.utter_message(response="utter_retention_accepted")
        return []
    return await answer_closing(dispatcher, customer, "", True)


async def answer_closing(dispatcher: CollectingDispatcher, customer: VerifiedCustomer, _argument: str, yes: bool) -> list[EventType]:
    if not yes:
        dispatcher.utter_message(response="utter_account_kept")
        return []
    try:
        await CrmClient().close_account(customer_id=customer.id, token=customer.token, reason=CLOSE_REASON)
    except CrmRefused as refusal:
        if refusal.code not in ("open_orders", "already_closed"):
            raise
        dispatcher.utter_message(response="utter_account_has_open_orders" if refusal.code == "open_orders" else "utter_account_already_closed")
        return []
    dispatcher.utter_message(response="utter_account_closed", first_name=customer.first_name)
    return forget_verification()
