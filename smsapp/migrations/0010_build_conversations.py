"""Build the inbox's conversations and counters from the messages already mirrored.

Set-based SQL that runs the same on SQLite and PostgreSQL (a mirror may hold millions of
messages; bench/inbox_bench.py times this on one million). It applies the rules of
smsapp.models.inbox.Conversation.take to the whole history at once:

- the newest message of each pair (our number, counterpart) by (date_created, id);
- "needs a reply": the newest inbound text is not an opt-out keyword (compared as Twilio's
  keywords, trimmed of spaces, any case) and no outbound-api text came after it;
- unread: history has no record of what staff read, so a staff-sent text counts as having
  read everything before it: the inbound texts after the pair's last outbound-api text
  are unread (all of them where staff never sent one).

Texts stored by processes still running the previous code after this ran would not be in
their conversations: migrate with the web and worker processes stopped (deploy/README.md).
"""

from django.db import migrations

OPT_OUT_WORDS = ("STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL")

OURS = "CASE WHEN direction = 'inbound' THEN to_number ELSE from_number END"
THEIRS = "CASE WHEN direction = 'inbound' THEN from_number ELSE to_number END"
INBOUND_OF_PAIR = (
    "m.from_number = c.counterpart AND m.to_number = c.our_number AND m.direction = 'inbound'"
)
STAFF_OF_PAIR = (
    "m.from_number = c.our_number AND m.to_number = c.counterpart "
    "AND m.direction = 'outbound-api'"
)
NEWEST_FIRST = "ORDER BY m.date_created DESC, m.id DESC LIMIT 1"
# As smsapp.lib.keywords reads them: whole message, any case, trailing punctuation ignored.
ASKS = "RTRIM(UPPER(TRIM(m.body)), '.,;:!?' || ' ') NOT IN ({})".format(
    ", ".join(f"'{w}'" for w in OPT_OUT_WORDS)
)

STATEMENTS = [
    # Each pair's newest message.
    f"""
    INSERT INTO smsapp_conversation (
        our_number, counterpart, last_message_id, last_sid, last_direction, last_body,
        last_status, last_media, last_at, patient_asks, needs_reply, unread, version)
    SELECT ours, theirs, id, sid, direction, SUBSTR(body, 1, 160), status, num_media,
        date_created, FALSE, FALSE, 0, 1
    FROM (
        SELECT id, sid, direction, body, status, num_media, date_created,
            {OURS} AS ours, {THEIRS} AS theirs,
            ROW_NUMBER() OVER (
                PARTITION BY {OURS}, {THEIRS} ORDER BY date_created DESC, id DESC
            ) AS newest
        FROM smsapp_message
        WHERE from_number <> '' AND to_number <> ''
    ) AS m
    WHERE newest = 1
    """,
    # The newest staff-sent text (one range scan of message_pair_newest per conversation).
    f"""
    UPDATE smsapp_conversation AS c SET (staff_at, staff_message_id) = (
        SELECT m.date_created, m.id FROM smsapp_message AS m
        WHERE {STAFF_OF_PAIR} {NEWEST_FIRST})
    """,
    # The newest inbound text, and whether it asks for a reply.
    f"""
    UPDATE smsapp_conversation AS c SET (patient_at, patient_message_id, patient_asks) = (
        SELECT m.date_created, m.id, {ASKS} FROM smsapp_message AS m
        WHERE {INBOUND_OF_PAIR} {NEWEST_FIRST})
    WHERE EXISTS (SELECT 1 FROM smsapp_message AS m WHERE {INBOUND_OF_PAIR})
    """,
    # Needs a reply; read up to the last staff-sent text; unread: inbound texts after it.
    f"""
    UPDATE smsapp_conversation AS c SET
        needs_reply = (patient_asks AND patient_at IS NOT NULL AND (
            staff_at IS NULL OR staff_at < patient_at
            OR (staff_at = patient_at AND staff_message_id < patient_message_id))),
        seen_at = staff_at,
        seen_message_id = staff_message_id,
        unread = (
            SELECT COUNT(*) FROM smsapp_message AS m WHERE {INBOUND_OF_PAIR} AND (
                c.staff_at IS NULL OR m.date_created > c.staff_at
                OR (m.date_created = c.staff_at AND m.id > c.staff_message_id)))
    """,
    """
    INSERT INTO smsapp_inboxcounter (our_number, unread, needs_reply, version)
    SELECT our_number, SUM(CASE WHEN unread > 0 THEN 1 ELSE 0 END),
        SUM(CASE WHEN needs_reply THEN 1 ELSE 0 END), 1
    FROM smsapp_conversation GROUP BY our_number
    """,
]


def build(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for statement in STATEMENTS:
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("smsapp", "0009_conversations"),
    ]

    operations = [
        migrations.RunPython(build, migrations.RunPython.noop, elidable=True),
    ]
