"""How fast sync_twilio mirrors a large account, and whether its memory stays flat.

    .venv/bin/python bench/sync_bench.py                       # 50,000 messages, SQLite
    .venv/bin/python bench/sync_bench.py --messages 10000
    .venv/bin/python bench/sync_bench.py --database-url postgres://postgres@127.0.0.1:5432/bench

A local stand-in for Twilio's list API (a real HTTP server on 127.0.0.1, in its own
process so it shares neither the GIL nor the memory figures) generates Twilio-shaped pages
of 1,000 messages on the fly, following next_page_uri. The real twilio SDK talks to it
through an HttpClient subclass that rewrites api.twilio.com to that server; the benchmark
swaps it in by replacing smsapp.twilio_gateway.client._client, for this script only.

It runs the sync twice on an empty mirror: once timed (messages per second), once under
tracemalloc (peak Python memory, which slows it down). It also prints the process's max
RSS. Run it at 10,000 and at 50,000 messages: the peaks should match, because only one
page is held in memory at a time. SQLite uses a temporary file database, migrated here.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import multiprocessing
import os
import pstats
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "AC" + "b" * 32
PAGE_SIZE = 1000
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


# --- the stand-in for Twilio's list API -------------------------------------------------------


def _message(n: int) -> dict:
    sid = f"SM{n:032x}"
    created = BASE_TIME + timedelta(seconds=n)
    inbound = n % 3 == 0
    return {
        "account_sid": ACCOUNT,
        "api_version": "2010-04-01",
        "body": f"Reminder: your appointment is on Monday at 9:30 (#{n}). Reply C to confirm.",
        "date_created": format_datetime(created),
        "date_sent": format_datetime(created + timedelta(seconds=1)),
        "date_updated": format_datetime(created + timedelta(seconds=4)),
        "direction": "inbound" if inbound else "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": f"+1650555{n % 10000:04d}" if inbound else "+14155550100",
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": "-0.00790",
        "price_unit": "USD",
        "sid": sid,
        "status": "received" if inbound else "delivered",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media.json"},
        "to": "+14155550100" if inbound else f"+1650555{n % 10000:04d}",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json",
    }


def _phone(n: int) -> dict:
    sid = f"PN{n:032x}"
    return {
        "sid": sid,
        "account_sid": ACCOUNT,
        "phone_number": f"+1415555010{n}",
        "friendly_name": f"Front desk {n}",
        "capabilities": {"sms": True, "mms": True, "voice": True, "fax": False},
        "status": "in-use",
        "sms_url": "",
        "sms_method": "POST",
        "status_callback": "",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers/{sid}.json",
    }


def _messages_page(total: int, page: int) -> dict:
    """Page `page` of an account of `total` messages, newest first."""
    newest = total - 1 - page * PAGE_SIZE
    numbers = range(newest, max(newest - PAGE_SIZE, -1), -1)
    base = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json?PageSize={PAGE_SIZE}"
    more = newest - PAGE_SIZE >= 0
    return {
        "messages": [_message(n) for n in numbers],
        "first_page_uri": f"{base}&Page=0",
        "next_page_uri": f"{base}&Page={page + 1}&PageToken=PA{page + 1:032x}" if more else None,
        "previous_page_uri": None,
        "page": page,
        "page_size": PAGE_SIZE,
        "start": page * PAGE_SIZE,
        "end": page * PAGE_SIZE + len(numbers) - 1,
        "uri": f"{base}&Page={page}",
    }


def _serve(port: int, total: int, ready) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as api.twilio.com

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlsplit(self.path)
            params = parse_qs(url.query)
            if url.path.endswith("/Messages.json"):
                status, body = 200, _messages_page(total, int(params.get("Page", ["0"])[0]))
            elif url.path.endswith("/IncomingPhoneNumbers.json"):
                status, body = (
                    200,
                    {
                        "incoming_phone_numbers": [_phone(1), _phone(2)],
                        "next_page_uri": None,
                        "page": 0,
                        "page_size": 1000,
                    },
                )
            else:
                status, body = 404, {"code": 20404, "message": "Not found", "status": 404}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ready.set()
    server.serve_forever()


def start_stand_in(port: int, total: int) -> multiprocessing.Process:
    ready = multiprocessing.Event()
    process = multiprocessing.Process(target=_serve, args=(port, total, ready), daemon=True)
    process.start()
    if not ready.wait(10):
        sys.exit(f"The stand-in for Twilio did not start on 127.0.0.1:{port}; try --port.")
    return process


# --- the app, pointed at the stand-in ----------------------------------------------------------


def setup_django(database_url: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        SECRET_KEY="benchmark-only-not-a-secret",
        DEBUG="false",
        DATABASE_URL=database_url,
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_API_KEY="SK" + "c" * 32,
        TWILIO_API_SECRET="benchmark-secret",
        TWILIO_SANDBOX="false",
        TWILIO_MAX_RETRIES="0",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def point_sdk_at(port: int) -> None:
    """Replace the gateway's client factory with one whose HTTP client sends
    api.twilio.com's requests to the stand-in. Everything else (SDK, gateway, sync)
    is the real code."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    from smsapp.twilio_gateway import client as twilio_client

    class LocalHttpClient(TwilioHttpClient):
        def request(self, method, url, *args, **kwargs):
            url = url.replace("https://api.twilio.com", f"http://127.0.0.1:{port}", 1)
            return super().request(method, url, *args, **kwargs)

    clients = {}

    def local_client(account_sid, username, password, timeout, *args):
        key = (account_sid, username, password, timeout)
        if key not in clients:
            clients[key] = Client(
                username,
                password,
                account_sid=account_sid,
                http_client=LocalHttpClient(timeout=timeout),
            )
        return clients[key]

    twilio_client._client = local_client


def prepare_database(reset: bool) -> None:
    from django.core.management import call_command

    from smsapp.models import Message, Phone

    call_command("migrate", verbosity=0)
    if Message.objects.exists() and not reset:
        sys.exit("That database already has messages; use an empty one or pass --reset.")
    empty_mirror()
    Phone.objects.all().delete()


def empty_mirror() -> None:
    """Plain DELETEs: the ORM's delete() would load every row (to cascade) and raise the
    process's max RSS before the sync is even measured."""
    from django.db import connection

    from smsapp.models import Media, Message, SyncRun

    with connection.cursor() as cursor:
        for model in (Media, Message, SyncRun):
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - a name from _meta


def sync_once(total: int, *, quiet: bool) -> tuple[float, float]:
    from smsapp.services import sync

    def progress(page: int, size: int, result) -> None:
        if not quiet and (page % 10 == 0 or size < PAGE_SIZE):
            print(f"  page {page}: {result.messages}", flush=True)

    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    result = sync.sync_all(full=True, on_page=progress)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if result.messages.created != total:
        sys.exit(f"Expected {total} messages created, got {result.messages}.")
    return elapsed, cpu


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--port", type=int, default=18142, help="stand-in port (18100-18199)")
    parser.add_argument("--reset", action="store_true", help="empty the mirror of that DB first")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    args = parser.parse_args()

    workdir = tempfile.TemporaryDirectory(prefix="sync-bench-")
    database_url = args.database_url or f"sqlite:///{workdir.name}/bench.sqlite3"
    setup_django(database_url)
    stand_in = start_stand_in(args.port, args.messages)
    try:
        point_sdk_at(args.port)
        prepare_database(args.reset)
        from django.db import connection

        print(f"{args.messages:,} messages, {connection.vendor}, stand-in on :{args.port}")
        rss_before = max_rss_mb()

        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        elapsed, cpu = sync_once(args.messages, quiet=False)
        if profiler:
            profiler.disable()
        rss_after = max_rss_mb()

        empty_mirror()
        tracemalloc.start()
        traced_elapsed, _ = sync_once(args.messages, quiet=True)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        # CPU time too: on a busy machine the wall clock also counts other processes' turns.
        print(f"messages/s:        {args.messages / elapsed:,.0f} ({elapsed:.2f} s wall)")
        print(f"messages/CPU-s:    {args.messages / cpu:,.0f} ({cpu:.2f} s CPU in this process)")
        print(f"tracemalloc peak:  {peak / 2**20:.1f} MB (that run: {traced_elapsed:.2f} s)")
        print(f"max RSS:           {rss_after:.1f} MB (before the sync: {rss_before:.1f} MB)")
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    finally:
        stand_in.terminate()
        stand_in.join()
        workdir.cleanup()


if __name__ == "__main__":
    main()
