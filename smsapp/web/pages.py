"""The three-tab page (Log, Send, Phones) staff use all day, in the chart's right pane.

The page holds no business logic: its JavaScript (static/smsapp/page/, ES modules) calls
the JSON API. The server only hands the script the facts it cannot know (where the API lives, our
own webhook URL, whether Twilio is configured, the Canvas token) through a
`<script type="application/json">` block, so the Content-Security-Policy can forbid every
inline script.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import get_script_prefix
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET

from smsapp import twilio_gateway
from smsapp.lib import validation
from smsapp.lib.public_urls import API_PREFIX, status_callback_url


def page_config(
    *, patient_phone: str = "", api_token: str = "", api_token_renew_url: str = "", csrf: str = ""
) -> dict[str, object]:
    """What the page's JavaScript needs to know, rendered with json_script."""
    configured = twilio_gateway.is_configured()
    return {
        # Under the script prefix, so the page still works when mounted below "/".
        "apiBase": get_script_prefix() + API_PREFIX,
        # PUBLIC_BASE_URL + our outbound_api_status route; "" when PUBLIC_BASE_URL is unset.
        "statusCallbackUrl": status_callback_url(),
        "publicBaseUrl": settings.PUBLIC_BASE_URL,
        "twilioConfigured": configured,
        "sandbox": bool(getattr(settings, "TWILIO_SANDBOX", False)),
        "notConfigured": "" if configured else twilio_gateway.NOT_CONFIGURED,
        "apiToken": api_token,
        "apiTokenRenewUrl": api_token_renew_url,
        "patientPhone": patient_phone,
        # Only used when signed in with the session cookie; the Canvas embed uses the token.
        "csrfToken": "" if api_token else csrf,
    }


def render_page(
    request: HttpRequest,
    *,
    patient_phone: str = "",
    api_token: str = "",
    api_token_renew_url: str = "",
) -> HttpResponse:
    """The page, for the "/" view and for the Canvas embed view (which has verified the
    launch token and passes the API token the page's JavaScript will send)."""
    config = page_config(
        patient_phone=patient_phone,
        api_token=api_token,
        api_token_renew_url=api_token_renew_url,
        csrf="" if api_token else get_token(request),
    )
    context = {
        "config": config,
        "twilio_configured": config["twilioConfigured"],
        "not_configured": config["notConfigured"],
        "public_base_url": config["publicBaseUrl"],
        "sandbox": config["sandbox"],
    }
    response = render(request, "smsapp/page.html", context)
    # Framing is governed by the CSP's frame-ancestors (SecurityHeadersMiddleware), which
    # allows the Canvas origin; X-Frame-Options cannot name an origin, so it is left off.
    response.xframe_options_exempt = True
    # The page may carry a bearer token: never keep it in a shared or browser cache.
    add_never_cache_headers(response)
    return response


@require_GET
@login_required  # anonymous users go to settings.LOGIN_URL and come back
def page(request: HttpRequest) -> HttpResponse:
    """The page for users signed in to this app in an SMS role (smsapp.roles).
    `?patient=+15551234567` pre-fills the Send tab's To and opens the Log on the
    conversation with that number."""
    if not request.user.has_perm("smsapp.view_message"):
        raise PermissionDenied("Your account has no SMS role; ask an SMS administrator.")
    try:  # an unencoded "+" arrives as a space, which path_number mends
        patient = validation.path_number(request.GET.get("patient", ""), field="patient")
    except validation.InvalidInput:
        patient = ""  # not a number: open the page without one rather than refuse it
    return render_page(request, patient_phone=patient)
