"""The app's routes plus `bare/`, a view that only answers 200: the same server, the same
middleware, no work. bench/webhook_load.py compares the webhook with it."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"", content_type="text/plain")


urlpatterns = [path("bare/", bare), path("", include("project.urls"))]
