"""What every JSON route shares: the one error shape, and who may call."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse

# The original Canvas plugin's public path: the JSON API and the Twilio webhooks live under
# it, so a proxy or the plugin can forward paths unchanged.
API_PREFIX = "plugin-io/api/twilio_sms_mms/"


def json_error(information: str, status: int, fields: dict[str, str] | None = None) -> JsonResponse:
    """The API's only error shape: `information` (the original plugin's key, one sentence a
    person can act on) and, for invalid input, `fields` ({name: sentence})."""
    payload: dict[str, object] = {"information": information}
    if fields:
        payload["fields"] = fields
    return JsonResponse(payload, status=status)


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in staff only. Anonymous callers get 401 JSON (never a redirect to a login
    page a fetch() cannot follow); signed-in non-staff get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return json_error("Sign in as a staff member to use this API.", 401)
        if not user.is_staff:
            return json_error("Your account is not a staff account; ask an administrator.", 403)
        return view(request, *args, **kwargs)

    return wrapper
