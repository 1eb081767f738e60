import pytest
import responses as responses_lib
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from smsapp.roles import ADMINISTRATORS, AGENTS
from smsapp.twilio_gateway import calls
from smsapp.twilio_gateway import client as twilio_client


@pytest.fixture(autouse=True)
def _fresh_twilio_client():
    """The gateway caches its client per credentials, and its circuit breaker counts
    timeouts per process: no test may see what another one left behind."""
    twilio_client._client.cache_clear()
    calls.breaker.reset()
    yield
    twilio_client._client.cache_clear()
    calls.breaker.reset()


@pytest.fixture
def mocked_twilio():
    """Twilio at the HTTP layer: the real SDK runs, every unmatched request fails."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def user_in_role(role: str, username: str, **fields):
    """A user in one of the SMS roles (smsapp.roles), as an administrator would set up."""
    user = get_user_model().objects.create_user(username=username, **fields)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def staff_client(client, db):
    """Signed in as an SMS administrator: may do everything the page offers."""
    client.force_login(user_in_role(ADMINISTRATORS, "staff", password="staff-password"))
    return client


@pytest.fixture
def agent_client(client, db):
    """Signed in as an SMS agent: may read conversations and send, nothing more."""
    client.force_login(user_in_role(AGENTS, "agent", password="agent-password"))
    return client


@pytest.fixture
def run_jobs(db):
    """Work the task queue in this process, as `manage.py work --once` does: every job
    that is due, the periodic ones included."""
    from smsapp.worker import work

    return work
