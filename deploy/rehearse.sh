#!/usr/bin/env bash
# A production rehearsal, run by CI after the PostgreSQL suite: the deploy recipe's own
# steps on a fresh PostgreSQL database, with the production settings of
# deploy/.env.example (secrets and addresses replaced):
#   release: collectstatic, migrate (deploy/Procfile); a superuser;
#   gunicorn with deploy/gunicorn.conf.py and `manage.py work`, as the systemd units run them;
#   then, as a load balancer, a person and Twilio (deploy/rehearsal_client.py): /readyz 200,
#   the page and the admin 200 signed in, a signed status callback stored;
#   the access log has request ids, no query strings, no full phone numbers;
#   SIGTERM stops both processes cleanly (exit 0); the database is dropped.
# Needs only this repository's .venv and PostgreSQL; about 20 seconds.
#
#   deploy/rehearse.sh
#   REHEARSAL_POSTGRES=postgres://postgres@127.0.0.1:5432 REHEARSAL_PORT=18750 deploy/rehearse.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
SERVER=${REHEARSAL_POSTGRES:-postgres://postgres@127.0.0.1:5432}
PORT=${REHEARSAL_PORT:-18750}
DB="sms_rehearsal_$$"
WORK=$(mktemp -d)
web=""
worker=""

finish() {
    status=$?
    for pid in $web $worker; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "$status" != 0 ]; then
        echo "== rehearsal FAILED; the processes' logs =="
        tail -n 40 "$WORK"/*.log 2>/dev/null || true
    fi
    psql -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
    rm -rf "$WORK"
}
trap finish EXIT

# The documented production settings, then what differs on this machine.
set -a
# shellcheck source=deploy/.env.example
. deploy/.env.example
DATABASE_URL="$SERVER/$DB"
SECRET_KEY=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(50))')
ALLOWED_HOSTS=127.0.0.1
PUBLIC_BASE_URL=https://sms.rehearsal.example  # what Twilio signs; the proxy is played below
TWILIO_AUTH_TOKEN=rehearsal-auth-token         # pointing nowhere real: no call leaves
TWILIO_API_SECRET=rehearsal-api-secret
STATIC_ROOT="$WORK/static"
MEDIA_ROOT="$WORK/media"
LOG_FORMAT=plain
REHEARSAL_USER=rehearsal
REHEARSAL_PASSWORD=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(20))')
DJANGO_SUPERUSER_PASSWORD=$REHEARSAL_PASSWORD
set +a

echo "== release: collectstatic, migrate (fresh database $DB) =="
psql -q "$SERVER/postgres" -c "CREATE DATABASE $DB"
"$VENV/bin/python" manage.py collectstatic --no-input -v0
"$VENV/bin/python" manage.py migrate --no-input -v0
"$VENV/bin/python" manage.py createsuperuser --no-input --username "$REHEARSAL_USER" \
    --email rehearsal@example.org >/dev/null

echo "== gunicorn (deploy/gunicorn.conf.py) and manage.py work =="
"$VENV/bin/gunicorn" -c deploy/gunicorn.conf.py --bind "127.0.0.1:$PORT" --workers 2 \
    >"$WORK/web.log" 2>&1 &
web=$!
"$VENV/bin/python" manage.py work >"$WORK/worker.log" 2>&1 &
worker=$!

"$VENV/bin/python" deploy/rehearsal_client.py "http://127.0.0.1:$PORT"

echo "== stop: SIGTERM, both exit 0 =="
kill -TERM "$web" "$worker"
web_status=0 worker_status=0
wait "$web" || web_status=$?
wait "$worker" || worker_status=$?
pids="$web $worker"
web="" worker=""
if [ "$web_status" != 0 ] || [ "$worker_status" != 0 ]; then
    echo "FAIL exit codes: gunicorn $web_status, worker $worker_status (processes $pids)"
    exit 1
fi
echo "ok   gunicorn and the worker exited 0"

echo "== logs =="
access=$(grep 'gunicorn.access' "$WORK/web.log")
if ! grep -q 'message_list/+\*\{7\}0123/from HTTP' <<<"$access"; then
    echo "FAIL no masked access line for message_list"
    exit 1
fi
if grep -q 'gunicorn.access \[-\]' <<<"$access" || grep -q '?' <<<"$access"; then
    echo "FAIL an access line has no request id, or a query string"
    exit 1
fi
if grep -E '(\+|%2[Bb])[0-9]{8,}' "$WORK/web.log" "$WORK/worker.log"; then
    echo "FAIL a full phone number reached the logs"
    exit 1
fi
echo "ok   $(wc -l <<<"$access") access lines, each with a request id, masked, no query string"
echo "== rehearsal passed =="
