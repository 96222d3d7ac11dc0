"""Replies shared by every action when the CRM cannot help."""

from rasa_sdk.executor import CollectingDispatcher


def say_crm_unavailable(dispatcher: CollectingDispatcher) -> None:
    """Plain words, no raw error, and the way to a human."""
    dispatcher.utter_message(response="utter_crm_unavailable")


def say_request_failed(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(response="utter_request_failed")
