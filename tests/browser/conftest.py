"""Playwright (sync API) driving Debian's chromium against Django's live server.

Twilio is mocked at the HTTP layer with `responses` in this process: the live server runs
in a thread of the same process, so the real twilio SDK inside it hits the mock. Playwright
talks to the live server over its own connection (not `requests`), so it is untouched.
"""

import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import responses as responses_lib
from django.test import Client

from smsapp.roles import ADMINISTRATORS
from tests.conftest import user_in_role

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a
# thread with a running loop unless told that this is deliberate.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import sync_playwright  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(
            f"Debian's chromium is missing at {CHROMIUM}: install it with "
            "`apt-get install chromium` (make test does it when run as root)."
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


@pytest.fixture
def worker(transactional_db):
    """The task queue worked while a live-server test runs, as `make run` does. The
    worker's own loop (smsapp.worker.Worker), in a thread of this process so it sees what
    the test set up: the test database, changed settings (the sandbox's address) and the
    mocked Twilio. (The app itself starts no threads; a `manage.py work` subprocess would
    see none of the test's settings.) Stopped, and its connection closed, before the
    database is flushed."""
    from django.db import connections

    from smsapp.worker import Worker

    loop = Worker(interval=0.05)

    def run() -> None:
        try:
            loop.run()
        finally:
            connections.close_all()  # this thread's own

    thread = threading.Thread(target=run, daemon=True, name="test-worker")
    thread.start()
    yield loop
    loop.running = False
    thread.join(timeout=15)


@pytest.fixture
def twilio(live_server):
    """Twilio's REST API, mocked; calls to the live server itself pass through."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru(live_server.url)
        yield rsps


class App:
    """Opens the page in a signed-in browser tab and records what must never happen:
    a JavaScript error, a CSP violation, a dialog other than the confirm() we expect."""

    def __init__(self, browser, live_server, session_cookie: str, shared_tab) -> None:
        self.browser = browser
        self.url = live_server.url
        self.session_cookie = session_cookie
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.accept_confirm = True
        self._contexts = []
        self._shared_tab = shared_tab

    def _watch(self, page) -> None:
        page.set_default_timeout(8000)
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("console", self._console)

    def new_page(self, *, width: int = 420, height: int = 900, signed_in: bool = True):
        """A browser tab: signed in as this test's staff user (the session's shared tab,
        since a new tab costs a new renderer process, about 1.5 s), or a fresh one with no
        cookie at all (as inside Canvas's frame)."""
        if signed_in:
            page = self._shared_tab.page
            self._shared_tab.owner = self
            page.goto("about:blank")  # stops the previous page's timers and requests
            page.context.clear_cookies()
            page.context.add_cookies(
                [{"name": "sessionid", "value": self.session_cookie, "url": self.url}]
            )
            page.set_viewport_size({"width": width, "height": height})
            return page
        context = self.browser.new_context(viewport={"width": width, "height": height})
        self._contexts.append(context)
        page = context.new_page()
        self._watch(page)
        return page

    def open(self, path: str = "/", *, width: int = 420, height: int = 900):
        page = self.new_page(width=width, height=height)
        page.goto(self.url + path)
        # The numbers arrive from phone_list; every flow starts once they are in. (No
        # wait_for_function: evaluating a string is eval(), which the page's CSP forbids.)
        page.locator('body[data-phones="loaded"]').wait_for(state="attached")
        return page

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        if dialog.type == "confirm" and self.accept_confirm:
            dialog.accept()
        else:
            dialog.dismiss()

    def _console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(f"CSP: {message.text}")

    def close(self) -> None:
        if self._shared_tab.owner is self:
            self._shared_tab.page.goto("about:blank")
            self._shared_tab.owner = None
        for context in self._contexts:
            context.close()


class _SharedTab:
    """One tab for the whole session; its events go to the test that is using it."""

    def __init__(self, browser) -> None:
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.page.set_default_timeout(8000)
        self.owner: App | None = None
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self._error(f"page error: {exc}"))
        self.page.on("console", lambda message: self.owner and self.owner._console(message))

    def _dialog(self, dialog) -> None:
        if self.owner:
            self.owner._dialog(dialog)
        else:
            dialog.dismiss()

    def _error(self, text: str) -> None:
        if self.owner:
            self.owner.errors.append(text)


@pytest.fixture(scope="session")
def shared_tab(browser):
    tab = _SharedTab(browser)
    yield tab
    tab.context.close()


@pytest.fixture
def app(browser, live_server, transactional_db, django_user_model, shared_tab):
    user = user_in_role(ADMINISTRATORS, "frontdesk", password="frontdesk-password")
    client = Client()
    client.force_login(user)
    opened = App(browser, live_server, client.cookies["sessionid"].value, shared_tab)
    yield opened
    opened.close()
    assert opened.errors == [], "the page must run without script errors or CSP violations"


_screenshots_taken: list[Path] = []


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _screenshots_taken.append(SCREENSHOTS)
    return SCREENSHOTS


def pytest_terminal_summary(terminalreporter):
    """Name the screenshots' folder at the end of the run, where a person will see it
    (a print() in a test is hidden unless the test fails)."""
    if _screenshots_taken:
        terminalreporter.write_line(f"Screenshots of the page: {_screenshots_taken[0]}")


class OtherSite:
    """A second web site on 127.0.0.1 (the live server is `localhost`, so the browser sees
    another site), serving one HTML page: a stand-in for the Canvas chart that frames us.

    Playwright's route() cannot play this part: chromium treats a page it fulfilled as on
    the public internet, and its Local Network Access check then refuses to let it frame
    the live server on loopback (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS). In
    production both Canvas and the app are public, so no such check applies there.
    """

    def __init__(self) -> None:
        self.html = b""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(site.html)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        # The same server as `localhost`: the same site as the live server (a port does
        # not make another site), so the browser treats the frame as first-party.
        self.same_site_origin = f"http://localhost:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def framing(self, src: str, sandbox: str = "", *, origin: str = "") -> str:
        """Serve a page that frames `src` in a 420 px pane (with an iframe `sandbox`
        attribute when given); returns the page's URL (at `origin`, by default `origin`)."""
        attributes = f' sandbox="{sandbox}"' if sandbox else ""
        self.html = (
            "<!doctype html><title>Chart</title>"
            f'<iframe id="sms" src="{src}"{attributes} width="420" height="860"></iframe>'
        ).encode()
        return f"{origin or self.origin}/chart"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def other_site():
    site = OtherSite()
    yield site
    site.close()
