"""Two of Rasa 3.6's per-message costs removed, without changing what it does (docs/benchmarks-chat.md).

- ``RemoteAction._validate_action_result`` calls ``jsonschema.validate``, which checks Rasa's action-response schema
  against the JSON Schema meta-schema before every use: ~24 ms of CPU per custom action call. Here the schema is
  checked once and its validator kept; an invalid answer still goes through Rasa's own check, for its error message.
- ``Event.resolve_by_type`` walks every subclass of ``Event`` for each event it deserialises; here each type name is
  looked up once.
"""

from functools import cache
from typing import Any

from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event

_rasa_validate_action_result = RemoteAction._validate_action_result
_rasa_resolve_by_type = Event.resolve_by_type
_event_classes: dict[str, type[Event]] = {}


@cache
def action_response_validator() -> Validator:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    if action_response_validator().is_valid(result):
        return True
    return _rasa_validate_action_result(self, result)  # raises Rasa's ValidationError


def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    if type_name in _event_classes:
        return _event_classes[type_name]
    resolved = _rasa_resolve_by_type(type_name, default)
    if resolved is not None and resolved is not default:
        _event_classes[type_name] = resolved
    return resolved


def apply() -> None:
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign,assignment]
