"""The page at "/": who may see it, what it tells its JavaScript, and its security headers.
What the page does in a browser is tested in tests/browser/."""

import json
import re
from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.urls import reverse

from smsapp import twilio_gateway
from smsapp.web.middleware import SecurityHeadersMiddleware, content_security_policy
from smsapp.web.pages import render_page

pytestmark = pytest.mark.django_db


def _config(response) -> dict:
    match = re.search(
        r'<script id="sms-config" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, "the page must hand its facts to the script in a JSON block"
    return json.loads(match.group(1))


def _csp(response) -> dict[str, str]:
    directives = [d.strip() for d in response["Content-Security-Policy"].split(";")]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in directives}


class _Scripts(HTMLParser):
    """Collects every <script> and every inline style or on* attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.inline_attributes: list[tuple[str, str]] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.inline_attributes.append((tag, name))
        if tag == "script":
            self.scripts.append({"attrs": dict(attrs), "text": ""})
            self._in_script = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1]["text"] += data


def test_the_page_renders_its_three_tabs_for_staff(staff_client):
    response = staff_client.get(reverse("smsapp:page"))

    assert response.status_code == 200
    html = response.content.decode()
    for tab in ("Log", "Send", "Phones"):
        assert re.search(
            rf'role="tab"[^>]*>{tab}(<span class="tab-badge"[^>]*></span>)?</button>', html
        )
    assert html.count('role="tabpanel"') == 3
    assert 'aria-selected="true"' in html


def test_anonymous_visitors_are_sent_to_the_login_and_back(client):
    response = client.get(reverse("smsapp:page"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('smsapp:login')}?next=/"


def test_signed_in_users_without_an_sms_role_are_refused_and_may_sign_out(
    client, django_user_model
):
    user = django_user_model.objects.create_user(username="patient", password="pw-123456789")
    client.force_login(user)

    response = client.get(reverse("smsapp:page"))

    assert response.status_code == 403
    html = response.content.decode()
    assert "Your account has no SMS role." in html
    assert f'action="{reverse("smsapp:logout")}"' in html
    assert "sms-config" not in html


def test_agents_may_open_the_page(agent_client):
    assert agent_client.get(reverse("smsapp:page")).status_code == 200


def test_the_script_learns_where_the_api_and_our_webhook_are(staff_client):
    config = _config(staff_client.get(reverse("smsapp:page")))

    assert reverse("smsapp:phone_list") == config["apiBase"] + "phone_list"
    assert config["statusCallbackUrl"] == "https://sms.example.org" + reverse(
        "smsapp:outbound_api_status"
    )
    assert config["twilioConfigured"] is True
    assert config["notConfigured"] == ""
    assert config["embed"] is False
    assert config["csrfToken"]


def test_no_status_callback_is_offered_without_a_public_address(staff_client, settings):
    settings.PUBLIC_BASE_URL = ""

    response = staff_client.get(reverse("smsapp:page"))

    assert _config(response)["statusCallbackUrl"] == ""
    assert "PUBLIC_BASE_URL" in response.content.decode()
    assert "cannot prefill its own webhook" in response.content.decode()


def test_with_a_public_address_the_send_tab_needs_no_warning(staff_client):
    response = staff_client.get(reverse("smsapp:page"))

    assert "cannot prefill its own webhook" not in response.content.decode()


def test_the_page_says_which_settings_to_add_when_twilio_is_not_configured(staff_client, settings):
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_API_KEY = ""
    settings.TWILIO_API_SECRET = ""
    settings.TWILIO_AUTH_TOKEN = ""

    response = staff_client.get(reverse("smsapp:page"))

    assert response.status_code == 200
    banner = re.search(r'id="not-configured"[^>]*>(.*?)</div>', response.content.decode(), re.S)
    assert banner
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_API_KEY", "TWILIO_API_SECRET", "TWILIO_AUTH_TOKEN"):
        assert name in banner.group(1)
    config = _config(response)
    assert config["twilioConfigured"] is False
    assert config["notConfigured"] == twilio_gateway.NOT_CONFIGURED


def test_a_configured_page_has_no_not_configured_banner(staff_client):
    response = staff_client.get(reverse("smsapp:page"))

    assert 'id="not-configured"' not in response.content.decode()


def test_the_page_has_no_inline_script_or_style(staff_client):
    parser = _Scripts()
    parser.feed(staff_client.get(reverse("smsapp:page")).content.decode())

    executable = [s for s in parser.scripts if s["attrs"].get("type") != "application/json"]
    assert executable, "the page's behaviour comes from script files"
    assert all(s["attrs"].get("src") and not s["text"].strip() for s in executable)
    assert parser.inline_attributes == []


def test_every_script_and_stylesheet_the_page_names_exists():
    for name in (
        "smsapp/page/main.js",
        "smsapp/page/core.js",
        "smsapp/page/sms.js",
        "smsapp/page/log.js",
        "smsapp/page/send.js",
        "smsapp/page/phones.js",
        "smsapp/page/sandbox.js",
        "smsapp/page/embed.js",
        "smsapp/page/media.js",
        "smsapp/page/inbox.js",
        "smsapp/page/thread.js",
        "smsapp/page/reply.js",
        "smsapp/page/compose.js",
        "smsapp/page/lookup.js",
        "smsapp/page.css",
        "smsapp/inbox.css",
    ):
        assert finders.find(name), name


def test_the_content_security_policy_forbids_inline_script_and_foreign_framing(staff_client):
    policy = _csp(staff_client.get(reverse("smsapp:page")))

    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert policy["form-action"] == "'self'"
    assert set(policy["img-src"].split()) == {"'self'", "data:", "blob:"}
    assert policy["frame-ancestors"] == "'self' https://clinic.canvasmedical.com"


def test_the_page_may_be_framed_by_canvas_so_it_has_no_x_frame_options(staff_client):
    response = staff_client.get(reverse("smsapp:page"))

    assert "X-Frame-Options" not in response


def test_without_a_canvas_origin_only_our_own_pages_may_frame_it(staff_client, settings):
    settings.CANVAS_ORIGIN = ""

    policy = _csp(staff_client.get(reverse("smsapp:page")))

    assert policy["frame-ancestors"] == "'self'"


def test_the_admin_keeps_deny_and_gets_frame_ancestors_none(client):
    response = client.get(reverse("admin:login"))

    assert response["X-Frame-Options"] == "DENY"
    assert _csp(response)["frame-ancestors"] == "'none'"


def test_json_answers_get_no_html_policy(staff_client):
    response = staff_client.get(reverse("smsapp:templates"))

    assert response["Content-Type"] == "application/json"
    assert "Content-Security-Policy" not in response


def test_a_policy_set_by_the_view_itself_is_kept(rf):
    own = "default-src 'none'; sandbox"

    def view(request):
        response = HttpResponse("<p>hi</p>")
        response["Content-Security-Policy"] = own
        return response

    response = SecurityHeadersMiddleware(view)(rf.get("/"))

    assert response["Content-Security-Policy"] == own


def test_the_page_is_never_cached(staff_client):
    response = staff_client.get(reverse("smsapp:page"))

    assert "no-store" in response["Cache-Control"]


HOSTILE = '"></script><script>alert(1)</script>'


def test_a_patient_parameter_that_is_not_a_number_is_dropped(staff_client):
    response = staff_client.get(reverse("smsapp:page"), {"patient": HOSTILE})

    assert "<script>alert(1)</script>" not in response.content.decode()
    assert _config(response)["session"]["patientPhone"] == ""


def test_a_patient_phone_is_passed_as_data_and_escaped(rf, admin_user):
    request = rf.get("/")
    request.user = admin_user

    response = render_page(request, patient_phone=HOSTILE)

    assert "<script>alert(1)</script>" not in response.content.decode()
    assert _config(response)["session"]["patientPhone"] == HOSTILE


def test_a_patient_number_with_an_unencoded_plus_is_understood(staff_client):
    response = staff_client.get("/?patient=+14155550123")

    assert _config(response)["session"]["patientPhone"] == "+14155550123"


def test_the_page_tells_the_script_who_is_signed_in_and_what_their_role_allows(agent_client):
    session = _config(agent_client.get(reverse("smsapp:page")))["session"]

    assert session["userName"] == "agent"
    assert session["scope"] == "clinic"
    assert session["may"] == {
        "smsapp.send_message": True,
        "smsapp.change_phone": False,
        "smsapp.sync_twilio": False,
        "smsapp.delete_message": False,
        "smsapp.add_numberlink": True,
    }


def test_the_page_marks_the_controls_a_role_may_not_use(staff_client):
    html = staff_client.get(reverse("smsapp:page")).content.decode()

    for control, perm in [
        ("tab-send", "smsapp.send_message"),
        ("panel-send", "smsapp.send_message"),
        ("phones-sync", "smsapp.sync_twilio"),
        ("detail-delete", "smsapp.delete_message"),
    ]:
        assert re.search(rf'id="{control}"[^>]*data-needs="{perm}"', html), control


def test_the_page_shows_who_is_signed_in_and_a_sign_out_form(agent_client):
    html = agent_client.get(reverse("smsapp:page")).content.decode()

    form = re.search(
        r'<form class="whoami" method="post" action="/logout/">(.*?)</form>', html, re.S
    )
    assert form, "a sign-out form (POST) in the tab bar"
    assert "agent" in form.group(1)


def test_the_page_sends_no_referrer(staff_client):
    assert staff_client.get(reverse("smsapp:page"))["Referrer-Policy"] == "no-referrer"


def test_the_policy_helper_names_the_canvas_origin_only_for_frameable_pages(settings):
    settings.CANVAS_ORIGIN = "https://clinic.canvasmedical.com"

    assert "frame-ancestors 'self' https://clinic.canvasmedical.com" in content_security_policy(
        frameable=True
    )
    assert "frame-ancestors 'none'" in content_security_policy(frameable=False)
