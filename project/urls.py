from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("smsapp.web.urls")),
    # The offline stand-in for Twilio; every view answers 404 unless TWILIO_SANDBOX is on.
    path("", include("twilio_sandbox.api")),
    path("", include(("twilio_sandbox.simulate", "twilio_sandbox_simulate"))),
]

# An unexpected exception: JSON for the API, and the request id to quote (smsapp/web/errors.py).
handler500 = "smsapp.web.errors.server_error"
