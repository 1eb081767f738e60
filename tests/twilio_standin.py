"""A local stand-in for Twilio's Messages API that counts every send, for the tests and
benchmarks where worker *processes* send (`responses` only patches its own process).

Point a worker at it as at the offline sandbox: TWILIO_SANDBOX=true and
SANDBOX_BASE_URL=<its url>; the gateway's real twilio client then POSTs to
<url>/sandbox/twilio/2010-04-01/Accounts/<account>/Messages.json. Each POST is answered
201 with a queued message of a new SID and counted by its Body, so a test can say which
texts were sent and how many times.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import Counter
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from django.utils import timezone


class TwilioStandIn:
    """Serves on 127.0.0.1 in a thread of this process until close()."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()  # Body -> POSTs
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as api.twilio.com
            # Headers and body go out in two writes: without this, Nagle's algorithm and
            # the client's delayed ACK hold every answer back about 40 ms.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                if not self.path.endswith("/Messages.json"):
                    return self._answer(404, {"code": 20404, "message": "Not found"})
                body = form.get("Body", [""])[0]
                with stand_in._lock:
                    stand_in.sent[body] += 1
                return self._answer(201, _created(form))

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def posts(self) -> int:
        return sum(self.sent.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _created(form: dict[str, list[str]]) -> dict:
    sid = "SM" + secrets.token_hex(16)
    now = format_datetime(timezone.now())
    return {
        "sid": sid,
        "account_sid": "AC" + "0" * 32,
        "from": form.get("From", [""])[0],
        "to": form.get("To", [""])[0],
        "body": form.get("Body", [""])[0],
        "status": "queued",
        "direction": "outbound-api",
        "num_media": "0",
        "num_segments": "1",
        "date_created": now,
        "date_updated": now,
        "date_sent": None,
        "price": None,
        "price_unit": "USD",
        "error_code": None,
        "error_message": None,
        "messaging_service_sid": None,
        "uri": f"/2010-04-01/Accounts/AC{'0' * 32}/Messages/{sid}.json",
    }
