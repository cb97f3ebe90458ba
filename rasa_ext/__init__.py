"""Extensions of the Rasa server process (``python -m rasa_ext run …``).

Rasa validates every action server response with ``jsonschema.validate``, which
re-checks the response *schema* against the JSON Schema meta-schema on each
call; on two cores that self-check costs more than the rest of a form turn. The
patch below checks the schema once and keeps the compiled validator, so each
response is still validated against exactly the same schema, with the same
error message on failure.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema.protocols import Validator
from jsonschema.validators import validator_for


@lru_cache(maxsize=1)
def _response_validator() -> Validator:
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator: Validator = validator_class(schema)
    return validator


def install() -> None:
    """Replace ``RemoteAction._validate_action_result`` with the cached version."""
    from rasa.core.actions.action import RemoteAction

    original = RemoteAction._validate_action_result

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if _response_validator().is_valid(result):
            return True
        # Invalid: let Rasa build its usual, detailed error.
        validated: bool = original(self, result)
        return validated

    RemoteAction._validate_action_result = validate_action_result
