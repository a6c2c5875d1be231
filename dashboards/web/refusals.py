"""What a page says when a form is refused, and with which status: the same for every form.

A refusal of the services (`ControlError`) is their own sentence with the API's status; a form
the models refuse names the field. The pages render the sentence through `say`, so the German
page says it in German where `control.notices` knows the sentence.
"""

from __future__ import annotations

from pydantic import ValidationError

from mailark.control.orgs import ControlError
from mailark.dashboards.errors import STATUS


def refusal(e: Exception) -> tuple[str, int]:
    """The sentence and HTTP status of a refused form."""
    if isinstance(e, ControlError):
        return str(e), next((code for cls, code in STATUS if isinstance(e, cls)), 400)
    if isinstance(e, ValidationError):
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]).replace("_", " ") or "a field"
        return f"the form is not valid: {field}: {err['msg']}; correct it and send the form again", 400
    return f"the form is not valid: {str(e).splitlines()[0] if str(e) else type(e).__name__}", 400
