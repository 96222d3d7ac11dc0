"""``action_check_turn`` in Rasa: called only for a message it can do something for, and what it says is sent.

The action is the custom slot mapping of ``pending_change`` (actions/support.py), so Rasa would call the action
server for every customer message, sending the whole session's tracker: under bench-chat about 8 % of a Rasa worker's
CPU and a round trip per message, for a call that does nothing unless a question is pending or the message is
negative. Before the call, Rasa asks the action's own test (``actions.parsing.turn_needs_checking``, a pure function)
and skips it when there is nothing to check (a person has the conversation, or no question is pending and the
message is not negative).

Rasa 3.6 takes ``BotUttered`` events from a custom slot mapping action, then drops them when it validates the
extracted slots (``ActionExtractSlots._execute_validation_action`` keeps only ``SlotSet`` events): the offer of a person
after a run of negative messages was never sent. Here the extraction's messages are kept, before its slots, so
that Rasa sends them and logs them in the conversation like any other action's.
"""

from typing import Any

from rasa.core.actions.action import ActionExtractSlots
from rasa.shared.core.events import BotUttered, Event
from rasa.shared.core.trackers import DialogueStateTracker

from actions.parsing import turn_needs_checking

CHECK_TURN_ACTION = "action_check_turn"
_rasa_execute_custom_action = ActionExtractSlots._execute_custom_action
_rasa_execute_validation_action = ActionExtractSlots._execute_validation_action


def nothing_to_check(tracker: DialogueStateTracker) -> bool:
    return not turn_needs_checking(tracker.is_paused(), tracker.get_slot("pending_change"),
                                   tracker.latest_message.parse_data)


async def execute_custom_action(self: ActionExtractSlots, mapping: dict[str, Any], executed_custom_actions: set[str],
                                output_channel: Any, nlg: Any, tracker: DialogueStateTracker, domain: Any
                                ) -> tuple[list[Any], set[str]]:
    if mapping.get("action") == CHECK_TURN_ACTION and nothing_to_check(tracker):
        return [], executed_custom_actions
    return await _rasa_execute_custom_action(self, mapping, executed_custom_actions, output_channel, nlg, tracker,
                                             domain)


async def validate_keeping_messages(self: ActionExtractSlots, extraction_events: list[Event], output_channel: Any,
                                    nlg: Any, tracker: DialogueStateTracker, domain: Any) -> list[Event]:
    validated = await _rasa_execute_validation_action(self, extraction_events, output_channel, nlg, tracker, domain)
    return [event for event in extraction_events if isinstance(event, BotUttered)] + validated


def apply() -> None:
    ActionExtractSlots._execute_custom_action = execute_custom_action  # type: ignore[method-assign]
    ActionExtractSlots._execute_validation_action = validate_keeping_messages  # type: ignore[method-assign]
