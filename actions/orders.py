"""Orders of the verified customer: tracking, cancelling (before shipping), returns, refunds and invoices."""

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.crm_client import CrmClient, CrmRefused
from actions.customer import VerifiedCustomer
from actions.parsing import format_date, format_money

CANCELLABLE = ("placed", "paid")
RETURN_REFUSALS = {  # the CRM's eligibility codes and what the customer is told
    "not_shipped": "utter_return_not_shipped",
    "in_transit": "utter_return_in_transit",
    "window_closed": "utter_return_window_closed",
    "already_requested": "utter_return_already_requested",
}


def choose_order(orders: list[dict[str, Any]], preferred_statuses: tuple[str, ...]) -> str | None:
    """The newest order in one of ``preferred_statuses``, else the newest order; None without orders."""
    preferred = [order for order in orders if order["status"] in preferred_statuses]
    chosen = (preferred or orders or [None])[0]
    return chosen["order_number"] if chosen else None


async def named_or_chosen_order(
    dispatcher: CollectingDispatcher, customer: VerifiedCustomer, tracker: Tracker, preferred_statuses: tuple[str, ...]
) -> dict[str, Any] | None:
    """The order the customer named, else the best guess among the latest ones; tells the customer when there is none."""
    client = CrmClient()
    order_number = tracker.get_slot("order_number")
    if not order_number:
        recent = (await client.orders(customer_id=customer.id, token=customer.token, limit=10))["orders"]
        order_number = choose_order(recent, preferred_statuses)
        if order_number is None:
            dispatcher.utter_message(response="utter_no_orders")
            return None
    return await client.order(customer_id=customer.id, token=customer.token, order_number=order_number)


async def tell_order_status(dispatcher: CollectingDispatcher, customer: VerifiedCustomer, tracker: Tracker) -> list[EventType]:
    order = await named_or_chosen_order(dispatcher, customer, tracker, ())
    if order:
        tracking = (f" It travels with {order['carrier']}, tracking number {order['tracking_number']}."
                    if order["tracking_number"] else "")
        dispatcher.utter_message(response="utter_order_status", order_number=order["order_number"], status=order["status"],
                                 placed=format_date(order["placed_at"]), total=format_money(order["total"]), tracking=tracking)
    return []


async def offer_cancellation(dispatcher: CollectingDispatcher, customer: VerifiedCustomer, tracker: Tracker) -> list[EventType]:
    """Ask to confirm cancelling an order that hasn't shipped; otherwise say why not and offer a return where possible."""
    order = await named_or_chosen_order(dispatcher, customer, tracker, CANCELLABLE)
    if order is None:
        return []
    number = order["order_number"]
    if order["can_cancel"]:
        dispatcher.utter_message(response="utter_confirm_cancel", order_number=number, placed=format_date(order["placed_at"]),
                                 total=format_money(order["total"]))
        return [SlotSet("pending_change", f"cancel:{number}")]
    if order["status"] == "shipped":
        dispatcher.utter_message(response="utter_cannot_cancel_shipped", order_number=number)
        return []
    if order["status"] == "delivered":
        return await _offer_return_of(dispatcher, customer, order)
    dispatcher.utter_message(response="utter_cannot_cancel_closed", order_number=number, status=order["status"])
    return []


async def offer_return(dispatcher: CollectingDispatcher, customer: VerifiedCustomer, tracker: Tracker) -> list[EventType]:
    order = await named_or_chosen_order(dispatcher, customer, tracker, ("delivered",))
    return await _offer_return_of(dispatcher, customer, order) if order else []


async def _offer_return_of(dispatcher: CollectingDispatcher, customer: VerifiedCustomer, order: dict[str, Any]) -> list[EventType]:
    number = order["order_number"]
    eligibility = await CrmClient().return_eligibility(customer_id=customer.id, token=customer.token, order_number=number)
    if not eligibility["eligible"]:
        _say_not_returnable(dispatcher, number, eligibility["code"], order["status"])
        return []
    dispatcher.utter_message(response="utter_offer_return", order_number=number, total=format_money(order["total"]),
                             deadline=format_date(eligibility["deadline"]))
    return [SlotSet("pending_change", f"return:{number}")]


def _say_not_returnable(dispatcher: CollectingDispatcher, order_number: str, code: str, status: str) -> None:
    dispatcher.utter_message(response=RETURN_REFUSALS.get(code, "utter_return_not_possible"), order_number=order_number,
                             status=status)


async def answer_cancellation(dispatcher: CollectingDispatcher, customer: VerifiedCustomer, order_number: str, yes: bool) -> list[EventType]:
    if not yes:
        dispatcher.utter_message(response="utter_cancel_kept", order_number=order_number)
        return []
    try:
        result = await CrmClient().cancel_order(customer_id=customer.id, token=customer.token, order_number=order_number)
    except CrmRefused as refusal:
        if refusal.code != "not_cancellable":
            raise
        dispatcher.utter_message(response="utter_cannot_cancel_shipped", order_number=order_number)
        return []
    refund = result["refund"]
    refund_text = (f" Your payment of {format_money(refund['amount'])} will be refunded (reference {refund['reference']})."
                   if refund else "")
    dispatcher.utter_message(response="utter_order_cancelled", order_number=order_number, refund=refund_text)
    return []


async def answer_return(dispatcher: CollectingDispatcher, customer: VerifiedCustomer, order_number: str, yes: bool) -> list[EventType]:
    if not yes:
        dispatcher.utter_message(response="utter_return_kept", order_number=order_number)
        return []
    try:
        result = await CrmClient().request_return(customer_id=customer.id, token=customer.token, order_number=order_number)
    except CrmRefused as refusal:
        if refusal.code not in RETURN_REFUSALS:
            raise
        dispatcher.utter_message(response=RETURN_REFUSALS[refusal.code], order_number=order_number)
        return []
    refund = result["refund"]
    dispatcher.utter_message(response="utter_return_started", order_number=order_number, reference=refund["reference"],
                             amount=format_money(refund["amount"]), instructions=result["instructions"])
    return []


async def tell_refunds(dispatcher: CollectingDispatcher, customer: VerifiedCustomer, tracker: Tracker) -> list[EventType]:
    refunds = await CrmClient().refunds(customer_id=customer.id, token=customer.token)
    if not refunds:
        dispatcher.utter_message(response="utter_no_refunds")
        return []
    described = "; ".join(
        f"{r['reference']} for order {r['order_number']} ({'return' if r['kind'] == 'return' else 'cancellation'}, "
        f"{format_money(r['amount'])}): {r['status']}"
        for r in refunds[:3]
    )
    dispatcher.utter_message(response="utter_refund_status", refunds=described)
    return []


async def tell_invoice(dispatcher: CollectingDispatcher, customer: VerifiedCustomer, tracker: Tracker) -> list[EventType]:
    order = await named_or_chosen_order(dispatcher, customer, tracker, ("paid", "shipped", "delivered"))
    if order is None:
        return []
    try:
        invoice = await CrmClient().invoice(customer_id=customer.id, token=customer.token, order_number=order["order_number"])
    except CrmRefused as refusal:
        if refusal.code != "not_invoiced":
            raise
        never_paid = "utter_invoice_cancelled_unpaid" if order["status"] == "cancelled" else "utter_invoice_not_ready"
        dispatcher.utter_message(response=never_paid, order_number=order["order_number"])
        return []
    items = ", ".join(f"{line['quantity']} x {line['name']} ({format_money(line['line_total'])})" for line in invoice["lines"])
    dispatcher.utter_message(response="utter_invoice", invoice_number=invoice["invoice_number"], order_number=invoice["order_number"],
                             issued=format_date(invoice["issued_at"]), items=items, total=format_money(invoice["total"]),
                             vat=format_money(invoice["vat_included"]))
    return []
