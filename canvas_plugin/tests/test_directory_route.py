"""GET directory, with the real SDK: the app's first fill walks every patient once, page
by page, in a stable order; ?patient= answers one."""

from datetime import datetime
from http import HTTPStatus

import pytest
from canvas_sdk.test_utils.factories import PatientFactory
from conftest import LAUNCH_KEY, call, contact_point, response_of
from twilio_sms_mms.handlers.api import SmsAppApi


@pytest.fixture
def get_directory(contract, secrets):
    def get(query: str = "") -> tuple[int, dict]:
        token = contract.plugin_call_token(key=LAUNCH_KEY, purpose="directory", body=None)
        return response_of(
            call(SmsAppApi, "GET", "/directory", secrets=secrets, query=query, token=token)
        )

    return get


def test_the_cursor_walk_covers_every_patient_once(get_directory):
    patients = PatientFactory.create_batch(7)
    seen, query, pages = [], "limit=3", 0
    while True:
        status, answer = get_directory(query)
        assert status == HTTPStatus.OK
        assert datetime.fromisoformat(answer["asOf"]).utcoffset() is not None
        assert len(answer["patients"]) <= 3
        seen += [entry["patientId"] for entry in answer["patients"]]
        pages += 1
        if answer["next"] is None:
            break
        query = f"limit=3&after={answer['next']}"

    assert sorted(seen) == sorted(patient.id for patient in patients)
    assert len(seen) == len(set(seen))
    assert pages == 3


def test_a_page_lists_the_patients_entries(get_directory, patient):
    contact_point(patient, "(415) 555-0123", opted_out=True)

    status, answer = get_directory()

    assert status == HTTPStatus.OK
    assert answer["next"] is None
    (entry,) = answer["patients"]
    assert entry["patientId"] == patient.id
    assert entry["mobiles"] == [{"number": "+14155550123", "optedOut": True}]


def test_patients_added_during_the_walk_come_on_a_later_page(get_directory):
    *first_page, third = PatientFactory.create_batch(3)
    _, first = get_directory("limit=2")
    added = PatientFactory.create()

    _, second = get_directory(f"limit=2&after={first['next']}")

    assert [entry["patientId"] for entry in first["patients"]] == [p.id for p in first_page]
    assert [entry["patientId"] for entry in second["patients"]] == [third.id, added.id]


def test_the_default_page_is_200_and_the_largest_500(get_directory):
    PatientFactory.create_batch(201)

    _, answer = get_directory()
    assert len(answer["patients"]) == 200
    assert answer["next"]

    _, answer = get_directory("limit=500")
    assert len(answer["patients"]) == 201
    assert answer["next"] is None


@pytest.mark.parametrize("limit", ["0", "501", "-1", "ten", "2.5"])
def test_a_limit_out_of_bounds_is_refused(get_directory, limit):
    status, answer = get_directory(f"limit={limit}")

    assert status == HTTPStatus.BAD_REQUEST
    assert answer == {"error": '"limit" must be a whole number from 1 to 500.'}


@pytest.mark.parametrize("cursor", ["12", "!!!", "YWZ0ZXI6eA", "b3RoZXI6MTI"])
def test_a_cursor_it_did_not_make_is_refused(get_directory, cursor):
    status, answer = get_directory(f"after={cursor}")

    assert status == HTTPStatus.BAD_REQUEST
    assert '"after"' in answer["error"]


def test_one_patient_by_id(get_directory, patient):
    PatientFactory.create()

    status, answer = get_directory(f"patient={patient.id}")

    assert status == HTTPStatus.OK
    assert [entry["patientId"] for entry in answer["patients"]] == [patient.id]
    assert answer["next"] is None


def test_an_unknown_patient_gives_an_empty_list(get_directory):
    status, answer = get_directory("patient=nobody")

    assert (status, answer["patients"], answer["next"]) == (HTTPStatus.OK, [], None)


def test_a_page_takes_two_queries_whatever_its_size(get_directory, django_assert_num_queries):
    for patient in PatientFactory.create_batch(5):
        contact_point(patient, "4155550123")

    with django_assert_num_queries(2):
        get_directory("limit=5")
