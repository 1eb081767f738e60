"""Reading the audit trail: GET /audit/export.csv for superusers (streamed, injection-safe,
itself audited) and the admin's list, read-only for everyone."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import timezone

from smsapp.models import AuditEvent
from smsapp.roles import ADMINISTRATORS
from smsapp.services import audit
from tests.conftest import user_in_role

pytestmark = pytest.mark.django_db

EXPORT = "/audit/export.csv"
ADMIN = "/admin/smsapp/auditevent/"
HEADER = ["at", "actor", "action", "target", "patient", "ip", "request_id"]


@pytest.fixture
def superuser_client(db):
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="x" * 20))
    return client


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def _entry(at: datetime, **fields) -> AuditEvent:
    values = {"actor": "staff", "action": "message_sent", "target": "SM1", **fields}
    return AuditEvent.objects.create(at=at, **values)


def _rows(response) -> list[list[str]]:
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# --- who may export ----------------------------------------------------------------------


def test_anonymous_callers_get_401(client):
    response = client.get(EXPORT)

    assert response.status_code == 401
    assert response.json()["information"] == "Sign in to use this API."


@pytest.mark.parametrize("fixture", ["staff_client", "agent_client"])
def test_staff_who_are_not_superusers_get_403_with_a_sentence(request, fixture):
    response = request.getfixturevalue(fixture).get(EXPORT)

    assert response.status_code == 403
    assert "Only a superuser may download the audit trail" in response.json()["information"]
    assert not AuditEvent.objects.filter(action="export_downloaded").exists()


# --- what it holds -----------------------------------------------------------------------


def test_a_superuser_gets_the_days_asked_for_oldest_first(superuser_client):
    _entry(_at(1), target="before the range")
    second = _entry(_at(3, 9), target="SM3", patient="canvas-patient-7", ip="10.0.0.5")
    first = _entry(_at(2, 0), target="SM2", request_id="abc123")
    _entry(_at(5), target="after the range")

    response = superuser_client.get(EXPORT, {"since": "2026-03-02", "until": "2026-03-04"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="audit-2026-03-02-2026-03-04.csv"'
    )
    assert "no-store" in response["Cache-Control"]
    assert _rows(response) == [
        HEADER,
        [first.at.isoformat(), "staff", "message_sent", "SM2", "", "", "abc123"],
        [second.at.isoformat(), "staff", "message_sent", "SM3", "canvas-patient-7",
         "10.0.0.5", ""],
    ]  # fmt: skip


@override_settings(TIME_ZONE="America/Los_Angeles")
def test_days_are_the_clinics_days(superuser_client):
    _entry(datetime(2026, 3, 2, 7, 30, tzinfo=UTC), target="late on the 1st in California")
    _entry(datetime(2026, 3, 2, 8, 30, tzinfo=UTC), target="early on the 2nd")

    response = superuser_client.get(EXPORT, {"since": "2026-03-01", "until": "2026-03-01"})

    assert [row[3] for row in _rows(response)[1:]] == ["late on the 1st in California"]


def test_cells_a_spreadsheet_would_run_as_formulas_are_made_text(superuser_client):
    _entry(_at(2), actor="-minus", target="+14155550199", patient="=HYPERLINK(1)",
           request_id="@sum")  # fmt: skip

    [_, row] = _rows(superuser_client.get(EXPORT, {"since": "2026-03-02", "until": "2026-03-02"}))

    assert row[1:5] == ["'-minus", "message_sent", "'+14155550199", "'=HYPERLINK(1)"]
    assert row[6] == "'@sum"


def test_the_export_is_audited_with_its_range(superuser_client):
    response = superuser_client.get(EXPORT, {"since": "2026-03-02", "until": "2026-03-04"})

    [entry] = AuditEvent.objects.filter(action="export_downloaded")
    assert (entry.actor, entry.target, entry.ip) == ("root", "2026-03-02..2026-03-04", "127.0.0.1")
    assert entry.request_id == response["X-Request-ID"]


def test_without_dates_it_is_the_last_30_days(superuser_client):
    today = timezone.localdate()

    superuser_client.get(EXPORT)

    [entry] = AuditEvent.objects.filter(action="export_downloaded")
    assert entry.target == f"{today - timedelta(days=29)}..{today}"


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"since": "03/02/2026"}, "since", "since must be a day written YYYY-MM-DD"),
        ({"until": "2026-02-30"}, "until", "until must be a day written YYYY-MM-DD"),
        ({"since": "20260302"}, "since", "such as 2026-01-31"),
        ({"since": "2026-03-05", "until": "2026-03-01"}, "since", "is after until"),
    ],
)
def test_a_bad_date_is_a_400_naming_it(superuser_client, query, field, words):
    response = superuser_client.get(EXPORT, query)

    assert response.status_code == 400
    assert words in response.json()["fields"][field]
    assert not AuditEvent.objects.filter(action="export_downloaded").exists()


def test_it_streams_in_pieces_from_one_query(
    superuser_client, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(audit, "EXPORT_CHUNK", 10)
    AuditEvent.objects.bulk_create(
        AuditEvent(at=_at(2), actor="staff", action="media_viewed", target=f"SM{n}")
        for n in range(95)
    )
    response = superuser_client.get(EXPORT, {"since": "2026-03-02", "until": "2026-03-02"})

    with django_assert_max_num_queries(1):  # the rows, read in chunks by one cursor
        pieces = list(response.streaming_content)

    assert len(pieces) == 10  # nine of 10 rows (the first with the header), then 5
    rows = list(csv.reader(io.StringIO(b"".join(pieces).decode())))
    assert len(rows) == 96


# --- the admin ---------------------------------------------------------------------------


def test_the_admin_lists_filters_and_searches_it(superuser_client, django_assert_max_num_queries):
    _entry(_at(2), actor="desk", action="conversation_opened", target="+14155550199")
    _entry(_at(2), actor="system", action="message_sent", target="SM9", patient="p-42")

    with django_assert_max_num_queries(12):
        listing = superuser_client.get(ADMIN)
    by_actor = superuser_client.get(ADMIN, {"actor": "system"})
    by_action = superuser_client.get(ADMIN, {"action__exact": "conversation_opened"})
    by_number = superuser_client.get(ADMIN, {"q": "+1 (415) 555-0199"})
    by_patient = superuser_client.get(ADMIN, {"q": "p-42"})

    assert listing.status_code == 200
    assert "+14155550199" in listing.content.decode()
    assert list(by_actor.context["cl"].result_list.values_list("target", flat=True)) == ["SM9"]
    assert [e.target for e in by_action.context["cl"].result_list] == ["+14155550199"]
    assert [e.target for e in by_number.context["cl"].result_list] == ["+14155550199"]
    assert [e.target for e in by_patient.context["cl"].result_list] == ["SM9"]


def test_not_even_a_superuser_may_add_change_or_delete_in_the_admin(superuser_client):
    entry = _entry(_at(2))

    listing = superuser_client.get(ADMIN).content.decode()
    add = superuser_client.get(f"{ADMIN}add/")
    change = superuser_client.post(f"{ADMIN}{entry.pk}/change/", {"actor": "someone"})
    delete = superuser_client.post(f"{ADMIN}{entry.pk}/delete/", {"post": "yes"})

    assert f"{ADMIN}add/" not in listing
    assert "delete_selected" not in listing
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert superuser_client.get(f"{ADMIN}{entry.pk}/change/").status_code == 200  # to read
    entry.refresh_from_db()
    assert entry.actor == "staff"


def test_administrators_who_are_not_superusers_do_not_see_it(db):
    client = Client()
    client.force_login(user_in_role(ADMINISTRATORS, "office", is_staff=True))

    assert client.get(ADMIN).status_code == 403
