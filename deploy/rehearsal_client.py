"""The checks of deploy/rehearse.sh, made against the running server as its callers would:
a load balancer, a person signing in, Twilio posting a signed status callback.

    python deploy/rehearsal_client.py http://127.0.0.1:18750

It speaks to gunicorn as the proxy in deploy/nginx.conf does (X-Forwarded-Proto: https,
X-Forwarded-For), so it keeps its own cookies: a cookie jar would not send the app's
Secure cookies over the loopback's plain http. Reads PUBLIC_BASE_URL, TWILIO_ACCOUNT_SID,
TWILIO_AUTH_TOKEN, DATABASE_URL and the admin's REHEARSAL_USER / REHEARSAL_PASSWORD from
the environment. Exits non-zero at the first check that fails.
"""

from __future__ import annotations

import http.client
import os
import re
import sys
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import psycopg
from twilio.request_validator import RequestValidator

API = "/plugin-io/api/twilio_sms_mms/"
MESSAGE_SID = "SM" + "5" * 32
READY_WITHIN = 40  # seconds


class Caller:
    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.origin = f"https://{parts.netloc}"
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, body=None, headers=None, proxied=True):
        sent = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        if proxied:
            sent |= {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        for line in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(line).items():
                self.cookies[name] = morsel.value
        return response, data


def expect(what: str, response, data: bytes, status: int) -> None:
    if response.status != status:
        sys.exit(f"FAIL {what}: {response.status}, expected {status}\n{data[:800].decode()}")
    print(f"ok   {what}: {response.status} (request id {response.headers['X-Request-ID']})")


def wait_until_ready(caller: Caller) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while True:
        try:
            response, data = caller.request("GET", "/readyz", proxied=False)
            if response.status == 200 or time.monotonic() > deadline:
                return expect("GET /readyz over the private network", response, data, 200)
        except OSError:  # not listening yet
            if time.monotonic() > deadline:
                sys.exit(f"FAIL the server did not answer within {READY_WITHIN} s")
        time.sleep(0.5)


def sign_in(caller: Caller, user: str, password: str) -> None:
    response, data = caller.request("GET", "/admin/login/")
    expect("GET /admin/login/", response, data, 200)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', data).group(1).decode()
    form = urlencode({"csrfmiddlewaretoken": token, "username": user, "password": password})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": caller.origin}
    response, data = caller.request(
        "POST", "/admin/login/?next=/admin/", body=form, headers=headers
    )
    expect("POST /admin/login/ (signs in)", response, data, 302)
    if "sessionid" not in caller.cookies:
        sys.exit("FAIL signing in set no session cookie")


def post_status_callback(caller: Caller) -> None:
    """Delivery status for a message, signed with the account's Auth Token as Twilio
    signs it: for the public address it called, which the proxy forwarded here."""
    path = API + "outbound_api_status"
    params = {
        "AccountSid": os.environ["TWILIO_ACCOUNT_SID"],
        "ApiVersion": "2010-04-01",
        "From": "+15005550006",
        "To": "+14155550123",
        "MessageSid": MESSAGE_SID,
        "SmsSid": MESSAGE_SID,
        "MessageStatus": "delivered",
        "SmsStatus": "delivered",
    }
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    signature = validator.compute_signature(os.environ["PUBLIC_BASE_URL"] + path, params)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
        "X-Request-ID": "rehearsal-status-callback",
    }
    response, data = caller.request("POST", path, body=urlencode(params), headers=headers)
    expect("POST outbound_api_status (signed by Twilio)", response, data, 200)
    if response.headers["X-Request-ID"] != "rehearsal-status-callback":
        sys.exit("FAIL the proxy's X-Request-ID was not kept")
    with psycopg.connect(os.environ["DATABASE_URL"]) as db:
        row = db.execute(
            "SELECT status FROM smsapp_statusevent WHERE message_sid = %s", [MESSAGE_SID]
        ).fetchone()
    if row != ("delivered",):
        sys.exit(f"FAIL the status callback was not stored (found {row})")
    print("ok   the status callback is stored")


def main(base: str) -> None:
    caller = Caller(base)
    wait_until_ready(caller)
    response, data = caller.request("GET", "/healthz", proxied=False)
    expect("GET /healthz", response, data, 200)
    response, data = caller.request("GET", "/", proxied=False)
    expect("GET / over plain http (redirected to https)", response, data, 301)

    sign_in(caller, os.environ["REHEARSAL_USER"], os.environ["REHEARSAL_PASSWORD"])
    response, page = caller.request("GET", "/")
    expect("GET / (the page, signed in)", response, page, 200)
    script = re.search(rb'src="(/static/smsapp/page/main\.[0-9a-f]+\.js)"', page)
    if script is None:
        sys.exit("FAIL the page does not load its hashed main.js")
    response, data = caller.request("GET", script.group(1).decode())
    expect(f"GET {script.group(1).decode()} (whitenoise)", response, data, 200)
    response, data = caller.request("GET", "/admin/")
    expect("GET /admin/", response, data, 200)
    # A patient's number in the path and a query string: neither may reach the logs.
    response, data = caller.request("GET", API + "message_list/+14155550123/from?limit=5")
    expect("GET message_list/<number>/from?limit=5", response, data, 200)

    post_status_callback(caller)


if __name__ == "__main__":
    main(sys.argv[1])
