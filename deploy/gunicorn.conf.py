"""gunicorn for this app: `gunicorn -c deploy/gunicorn.conf.py` from anywhere.

Command-line options win over this file (`--bind 0.0.0.0:8000`, `--workers 3`), as do
the settings in GUNICORN_CMD_ARGS. Logging follows the app's LOG_LEVEL and LOG_FORMAT.

Before any worker starts, the master runs `manage.py check`, so a server with Django's
start-up errors (static files not collected, PUBLIC_BASE_URL not https, webhook
signatures unchecked: smsapp/checks.py) refuses to start with the sentence that names the
fix, as runserver and `manage.py work` do. It runs in a child process rather than here
(or in project/wsgi.py) so the master never loads Django: each worker reads the settings
afresh when started, also after a `kill -HUP` reload, and no database connection is ever
opened before a fork; workers that import the app are not each delayed by the checks.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import environ  # noqa: E402 - after ROOT is importable

from smsapp.lib import logs  # noqa: E402 - plain module, imports no Django

# As project/settings.py reads it: the environment wins over .env.
environ.Env.read_env(ROOT / ".env")

wsgi_app = "project.wsgi:application"
chdir = str(ROOT)
bind = ["127.0.0.1:8000"]  # behind the proxy on the same machine; --bind to change

# Threads, not only processes: a request may wait on Twilio (the app bounds each call,
# retries included, at about 15 s: TWILIO_DEADLINE), and in sandbox mode the stand-in for
# Twilio is served by these same processes. WEB_CONCURRENCY is gunicorn's own variable
# for the number of processes.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) + 1))
threads = 4
# With threads, how long a process may stop answering its master (a stuck main loop)
# before it is replaced. It does not cut a request short: the app bounds its own waits
# (Twilio at about 15 s; syncs run as jobs in `manage.py work`), and the proxy gives up
# on a request after 60 s (deploy/nginx.conf).
timeout = 30
graceful_timeout = 30  # SIGTERM: finish the requests in flight, then exit
keepalive = 5  # seconds idle; longer than nginx's upstream keepalive_timeout (4 s)
# A fresh process now and then returns memory a long-lived one holds on to.
max_requests = 2000
max_requests_jitter = 200
# The control socket (gunicornc) is not used; two servers on one machine would share it.
control_socket_disable = True

# One line per request: no query string (%(U)s is the path alone; no %(r)s, %(q)s or the
# Referer, which carries the previous page's), the time in ms. The line's request id
# (plain: [id] before the message; json: "request_id") is the X-Request-ID the app sent
# back; phone numbers in paths are masked on the way out (smsapp/lib/logs.py).
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
logconfig_dict = logs.logging_config(
    level=os.environ.get("LOG_LEVEL", "INFO"),
    log_format=os.environ.get("LOG_FORMAT", "plain").strip().lower(),
)


def on_starting(server) -> None:
    """Refuse to start when Django's system checks find an error; log their warnings."""
    check = subprocess.run(  # noqa: S603 - this interpreter, our own manage.py
        [sys.executable, str(ROOT / "manage.py"), "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        raise RuntimeError(f"manage.py check refused to start the server:\n{check.stderr}")
    if check.stderr.strip():
        server.log.warning("manage.py check: %s", check.stderr.strip())
