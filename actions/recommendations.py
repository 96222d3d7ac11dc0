"""Product suggestions: personal (with the reason) for a verified customer, "something like X", or popular ones.

Uses the CRM's ``/customers/{id}/recommendations``, ``/recommendations/popular``, ``/products?query=`` and
``/products/{id}/similar`` (each list answer is ``{"recommendations": [...]}``); when they fail, are missing or their
model is not trained yet, the customer is told plainly.
"""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CrmClient, CrmRefused, CrmUnavailable
from actions.customer import VerifiedCustomer
from actions.parsing import find_similar_product

SUGGESTIONS = 3


def describe(answer: dict[str, Any], with_reason: bool = False) -> str:
    """The recommended products as one phrase: ``Name (reason)`` or just the names."""
    products = answer["recommendations"][:SUGGESTIONS]
    return ", ".join(f"{p['name']} ({p['reason'].rstrip('.')})" if with_reason else p["name"] for p in products)


def entity_value(tracker: Tracker, entity: str) -> str | None:
    return next(tracker.get_latest_entity_values(entity), None)


async def recommend(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    client = CrmClient()
    text = tracker.latest_message.get("text") or ""
    product = entity_value(tracker, "product") or find_similar_product(text)
    if product:
        found = await client.find_products(query=product)
        if found:
            similar = describe(await client.similar_products(product_id=found[0]["product_id"], k=SUGGESTIONS))
            if similar:
                dispatcher.utter_message(response="utter_recommend_similar", product=found[0]["name"], products=similar)
                return
    customer = VerifiedCustomer.from_tracker(tracker)
    if customer:
        try:
            personal = describe(await client.recommendations(customer_id=customer.id, token=customer.token, k=SUGGESTIONS), True)
        except CrmRefused as refusal:
            if refusal.code != "customer_verification_required":
                raise
            personal = ""  # an expired verification gets the popular products
        if personal:
            dispatcher.utter_message(response="utter_recommend_personal", products=personal)
            return
    category = entity_value(tracker, "category")
    try:
        popular = describe(await client.popular_products(category=category, k=SUGGESTIONS))
    except CrmRefused as refusal:
        if refusal.code != "category_not_found":
            raise
        category, popular = None, describe(await client.popular_products(category=None, k=SUGGESTIONS))
    if not popular:
        dispatcher.utter_message(response="utter_recommend_unavailable")
        return
    dispatcher.utter_message(response="utter_recommend_popular", category=f" in {category}" if category else "", products=popular)


class ActionRecommend(Action):
    def name(self) -> str:
        return "action_recommend"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            await recommend(dispatcher, tracker)
        except (CrmUnavailable, CrmRefused, KeyError, TypeError, ValueError):
            dispatcher.utter_message(response="utter_recommend_unavailable")
        return []
