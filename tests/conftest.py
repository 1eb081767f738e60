import pytest
import responses as responses_lib

from smsapp.twilio_gateway import client


@pytest.fixture(autouse=True)
def _fresh_twilio_client():
    """The gateway caches its client per credentials; tests that change settings must not
    see a client built for other ones."""
    client._client.cache_clear()
    yield
    client._client.cache_clear()


@pytest.fixture
def mocked_twilio():
    """Twilio at the HTTP layer: the real SDK runs, every unmatched request fails."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user(
        username="staff", password="staff-password", is_staff=True
    )
    client.force_login(user)
    return client
