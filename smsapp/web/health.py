"""Health checks for load balancers and uptime monitors: no sign-in, no patient data,
never cached. /healthz says the process answers; /readyz says whether it can do its job
(smsapp.services.health) and names each failing part."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from smsapp.services import health


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_safe
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    parts = health.readiness()
    failing = [name for name, state in parts.items() if state != health.OK]
    return JsonResponse(
        {"status": "fail" if failing else "ok", "failing": failing, "checks": parts},
        status=503 if failing else 200,
    )
