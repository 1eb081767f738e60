"""The three-tab page (Log, Send, Phones) staff use all day, in the chart's right pane, and
the app's own sign-in page.

The page holds no business logic: its JavaScript (static/smsapp/page/, ES modules) calls
the JSON API. The server only hands the script the facts it cannot know (where the API
lives, our own webhook URL, whether Twilio is configured, who is using it and what their
role allows) through a `<script type="application/json">` block, so the
Content-Security-Policy can forbid every inline script.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from smsapp import twilio_gateway
from smsapp.lib import validation
from smsapp.lib.public_urls import API_PREFIX, status_callback_url

# The permissions the page shows or hides controls for (smsapp.roles); the API checks
# each route's own permission whatever the page shows.
PAGE_PERMISSIONS = (
    "smsapp.send_message",  # the Send tab, the sandbox's "patient texts" form
    "smsapp.change_phone",  # a number's webhook form and "Use this app"
    "smsapp.sync_twilio",  # "Sync with Twilio"
    "smsapp.delete_message",  # "Delete message…"
    "smsapp.add_numberlink",  # a conversation's "Link to …" and "Unlink"
)


def page_config(*, embed: bool = False) -> dict[str, object]:
    """What the page's JavaScript needs to know about this app, the same for everyone."""
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
        # Inside Canvas the page trades the launch token of its URL fragment for an API
        # token and its `session` (smsapp.web.embed); these are its two routes.
        "embed": embed,
        "launchUrl": reverse("smsapp:embed_launch") if embed else "",
        "apiTokenRenewUrl": reverse("smsapp:embed_renew") if embed else "",
    }


def session_config(
    user: AbstractBaseUser,
    *,
    patient_phone: str = "",
    patient: dict[str, str] | None = None,
    scope: str = "clinic",
) -> dict[str, object]:
    """What the page needs to know about the person using it: who they are, the patient it
    was opened for (`patient`: the chart's {id, name}; `patientPhone`: the number To starts
    with), what their role allows (the page hides the rest) and whether the session
    reaches only that patient (EMBED_SCOPE, smsapp.web.scope)."""
    return {
        "userName": user.get_username(),
        "patient": patient,
        "patientPhone": patient_phone,
        "scope": scope,
        "may": {perm: user.has_perm(perm) for perm in PAGE_PERMISSIONS},
    }


def render_page(
    request: HttpRequest, *, patient_phone: str = "", embed: bool = False
) -> HttpResponse:
    """The page: for the signed-in user of `request` (the "/" view), or, with `embed`, the
    shell the Canvas embed opens, which knows no user until its script has traded the
    launch token (it carries no token and no data)."""
    config = page_config(embed=embed)
    if not embed:
        config["session"] = session_config(request.user, patient_phone=patient_phone)
        config["csrfToken"] = get_token(request)
    context = {
        "config": config,
        "embed": embed,
        "twilio_configured": config["twilioConfigured"],
        "not_configured": config["notConfigured"],
        "public_base_url": config["publicBaseUrl"],
        "sandbox": config["sandbox"],
    }
    response = render(request, "smsapp/page.html", context)
    # Framing is governed by the CSP's frame-ancestors (SecurityHeadersMiddleware), which
    # allows the Canvas origin; X-Frame-Options cannot name an origin, so it is left off.
    response.xframe_options_exempt = True
    # The page holds patients' messages: never keep it in a shared or browser cache.
    add_never_cache_headers(response)
    # No address of the page (a patient's number, a launch) in any request it makes.
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
@login_required  # anonymous users go to settings.LOGIN_URL and come back
def page(request: HttpRequest) -> HttpResponse:
    """The page for users signed in to this app in an SMS role (smsapp.roles).
    `?patient=+15551234567` pre-fills the Send tab's To and opens the Log on the
    conversation with that number."""
    if not request.user.has_perm("smsapp.view_message"):
        context = {
            "headline": "Your account has no SMS role.",
            "advice": "Ask an SMS administrator to make you an SMS agent, then sign in again.",
            "reason": "no_role",
            "sign_out": True,
        }
        return render(request, "smsapp/refused.html", context, status=403)
    try:  # an unencoded "+" arrives as a space, which path_number mends
        patient = validation.path_number(request.GET.get("patient", ""), field="patient")
    except validation.InvalidInput:
        patient = ""  # not a number: open the page without one rather than refuse it
    return render_page(request, patient_phone=patient)


# Django's own sign-in and sign-out, in the page's look: SMS agents are not staff of the
# admin site, whose sign-in page refuses them.
login = auth_views.LoginView.as_view(
    template_name="smsapp/login.html", redirect_authenticated_user=True
)


@csrf_exempt
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Sign out: a POST from a form on the page, then the sign-in page.

    Not Django's LogoutView, whose CSRF check refuses the page's forms: the page sends no
    Referer, so browsers send its forms with `Origin: null`. No other site can sign
    anyone out: the session cookie is SameSite=Lax, so a cross-site POST carries none."""
    auth.logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)
