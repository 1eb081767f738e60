"""Every route of the app. The JSON API and the webhooks live under the original Canvas
plugin's public prefix (API_PREFIX), so a proxy or the plugin can forward paths unchanged."""

from django.urls import path

from smsapp.lib.public_urls import API_PREFIX
from smsapp.web import api, audit, canvas, embed, health, pages, webhooks

app_name = "smsapp"


def _api(route: str, view, name: str):
    return path(f"{API_PREFIX}{route}", view, name=name)


# Webhooks first: Twilio calls them most often, and URL resolution stops at the first match.
urlpatterns = [
    _api("outbound_api_status", webhooks.outbound_api_status, "outbound_api_status"),
    _api("inbound_treatment", webhooks.inbound_treatment, "inbound_treatment"),
    _api("phone_list", api.phone_list, "phone_list"),
    _api("sync", api.sync_now, "sync"),
    _api("sync/<int:run_id>", api.sync_run, "sync_run"),
    _api("message_list/<str:number>/<str:direction>", api.message_list, "message_list"),
    _api("conversation/<str:number>/<str:counterpart>", api.conversation, "conversation"),
    _api(
        "conversation/<str:number>/<str:counterpart>/read",
        api.conversation_read,
        "conversation_read",
    ),
    _api(
        "conversation/<str:number>/<str:counterpart>/patient",
        api.conversation_patient,
        "conversation_patient",
    ),
    _api("conversations/<str:number>", api.conversations, "conversations"),
    _api("inbox_counts", api.inbox_counts, "inbox_counts"),
    _api("message/<str:message_sid>", api.message, "message"),
    _api("medias/<str:message_sid>", api.medias, "medias"),
    _api("medias/<str:message_sid>/<str:media_sid>", api.medias, "media_item"),
    _api("message_delete/<str:message_sid>", api.message_delete, "message_delete"),
    _api("sms_send", api.sms_send, "sms_send"),
    _api("send_attempt/<str:attempt_id>", api.send_attempt, "send_attempt"),
    _api("scheduled/<str:key>", api.scheduled_route, "scheduled"),
    _api("templates", api.template_list, "templates"),
    _api("time_zone/<str:number>", api.time_zone, "time_zone"),
    _api("consent/<str:number>", api.consent_state, "consent"),
    _api("inbound_webhook/<str:phone_sid>", api.inbound_webhook, "inbound_webhook"),
    _api(
        "inbound_webhook/<str:phone_sid>/this_app",
        api.inbound_webhook_this_app,
        "inbound_webhook_this_app",
    ),
    path("", pages.page, name="page"),
    path("login/", pages.login, name="login"),
    path("logout/", pages.logout, name="logout"),
    path("embed/", embed.embed, name="embed"),
    path("embed/launch/", embed.embed_launch, name="embed_launch"),
    path("embed/renew/", embed.embed_renew, name="embed_renew"),
    path("canvas/directory", canvas.directory_push, name="canvas_directory"),
    path("audit/export.csv", audit.export, name="audit_export"),
    # For load balancers and monitors (docs/api.md, "Health checks").
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
