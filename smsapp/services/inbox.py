"""The inbox: conversations and their per-number counters, kept current from every write
to the mirror, and read for the conversation list and the unread badge.

smsapp.services.mirror (and messages.delete) call record_new, refresh_newest,
status_changed and message_deleted inside the transaction that wrote the messages, so a
conversation never disagrees with the messages it sums up. The rules (what a message does
to its conversation) are Conversation's (smsapp.models.inbox); this module locks, writes
and counts.

Concurrency. A change to conversations first locks their rows (SELECT ... FOR UPDATE on
PostgreSQL; SQLite runs one writing transaction at a time anyway), reads what they were,
and writes what they become, the unread count as an increment. Writers lock messages,
then conversations (sorted by pair), then counters, so they cannot deadlock. The lock is
what makes two things exact:
- a number's counters change only when a conversation's flags flip, which needs its old
  state (unread texts yes/no, needs a reply yes/no);
- mark_read counts the inbound texts newer than what the page showed once it holds the
  lock: an inbound text either committed before (and is counted) or waits for the lock
  and adds itself after, so a read racing an inbound text never loses its count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models import Q
from django.utils import timezone

from smsapp.lib.errors import InvalidInput, NotFound
from smsapp.lib.paging import DEFAULT_PAGE_SIZE, decode_cursor, older_than, paged
from smsapp.lib.validation import is_sid
from smsapp.lib.write_lock import write_lock
from smsapp.models import Conversation, InboxCounter, Message
from smsapp.services import audit

Pair = tuple[str, str]  # (our number, counterpart)

# What the inbox needs of a message (Message's field names; "id" its primary key).
MESSAGE_FIELDS = (
    "id", "sid", "direction", "from_number", "to_number", "body", "status", "num_media",
    "date_created",
)  # fmt: skip
FILTERS = ("all", "unread", "needs_reply")


def message_row(message: Message) -> dict[str, Any]:
    return {name: getattr(message, "pk" if name == "id" else name) for name in MESSAGE_FIELDS}


# --- keeping conversations current (called by the mirror's writes) -------------------------


@dataclass
class _Change:
    conversation: Conversation
    flags_before: tuple[bool, bool]  # (has unread texts, needs a reply)
    unread_before: int
    removed: bool = False
    inserted: bool = False  # a new conversation, stored whole by _insert


def _flags(conversation: Conversation) -> tuple[bool, bool]:
    return conversation.unread > 0, conversation.needs_reply


def _started(conversation: Conversation) -> _Change:
    return _Change(conversation, _flags(conversation), conversation.unread)


# The writers run in the transaction of the write they follow; on their own they open one
# (the row locks need it). No savepoint: they are part of that write, not apart from it.
@transaction.atomic(savepoint=False)
def record_new(messages: Iterable[dict[str, Any]]) -> None:
    """Messages stored for the first time (rows of MESSAGE_FIELDS, any order, any pairs):
    each pair's conversation takes them, in one statement per kind of write, not one per
    message: the stored conversations are locked, new ones inserted whole, the others
    updated. Messages without both numbers belong to no conversation."""
    by_pair: dict[Pair, list[dict[str, Any]]] = defaultdict(list)
    for m in messages:
        if m["from_number"] and m["to_number"]:
            pair = Conversation.pair_of(m["direction"], m["from_number"], m["to_number"])
            by_pair[pair].append(m)
    if not by_pair:
        return
    stored = _select_locked(list(by_pair))
    fresh = {pair: _new(rows) for pair, rows in by_pair.items() if pair not in stored}
    inserted = _insert(list(fresh.values()))
    # Started meanwhile by another transaction (its INSERT came first): taken like any.
    stored.update(_select_locked([pair for pair in fresh if pair not in inserted]))
    changes = [_Change(fresh[pair], (False, False), 0, inserted=True) for pair in sorted(inserted)]
    for pair in sorted(stored):
        change = _started(stored[pair])
        for m in by_pair[pair]:
            change.conversation.take(m)
        changes.append(change)
    _save(changes)


def _new(messages: list[dict[str, Any]]) -> Conversation:
    """A conversation (not stored yet) of these messages alone."""
    conversation = Conversation.started_by(
        max(messages, key=lambda m: (m["date_created"], m["id"]))
    )
    for m in messages:
        conversation.take(m)
    return conversation


def _select_locked(pairs: list[Pair]) -> dict[Pair, Conversation]:
    """The pairs' stored conversations, locked in one order (by pair)."""
    if not pairs:
        return {}
    counterparts: dict[str, list[str]] = defaultdict(list)
    for ours, theirs in pairs:
        counterparts[ours].append(theirs)
    where = reduce(or_, (Q(our_number=o, counterpart__in=c) for o, c in counterparts.items()))
    rows = (
        Conversation.objects.select_for_update().filter(where).order_by("our_number", "counterpart")
    )
    return {(c.our_number, c.counterpart): c for c in rows}


# Written as SQL: a sync page changes hundreds of conversations, and the ORM's statements
# per row (or its bulk INSERT's per-field preparation) cost more than the page's own
# upsert of messages (bench/README.md).
_WRITTEN = (
    "last_message_id", "last_sid", "last_direction", "last_body", "last_status", "last_media",
    "last_at", "patient_at", "patient_message_id", "patient_asks", "staff_at",
    "staff_message_id", "needs_reply", "seen_at", "seen_message_id", "last_read_by",
    "last_read_at",
)  # fmt: skip
_INSERT_CHUNK = 400  # rows per INSERT: well under both databases' limits on parameters


def _columns(names: tuple[str, ...]) -> tuple[list[str], Any]:
    """The columns of `names`, and a function giving a conversation's values for them as
    the database takes them (datetimes adapted; the rest are plain values)."""
    fields = [Conversation._meta.get_field(name) for name in names]
    adapt = connection.ops.adapt_datetimefield_value
    getters = [(f.attname, adapt if isinstance(f, models.DateTimeField) else None) for f in fields]

    def values(c: Conversation) -> list[Any]:
        return [a(getattr(c, name)) if a else getattr(c, name) for name, a in getters]

    return [connection.ops.quote_name(f.column) for f in fields], values


def _insert(conversations: list[Conversation]) -> set[Pair]:
    """INSERT new conversations whole; the pairs stored now (one another transaction
    stored first is left out: ON CONFLICT DO NOTHING ... RETURNING)."""
    columns, values = _columns(("our_number", "counterpart", *_WRITTEN, "unread"))
    table = connection.ops.quote_name(Conversation._meta.db_table)
    inserted: set[Pair] = set()
    for start in range(0, len(conversations), _INSERT_CHUNK):
        chunk = conversations[start : start + _INSERT_CHUNK]
        row = f"({', '.join(['%s'] * (len(columns) + 1))})"
        # Only names from the model are formatted in; every value is a parameter.
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}, version) "  # noqa: S608
            f"VALUES {', '.join([row] * len(chunk))} "
            "ON CONFLICT (our_number, counterpart) DO NOTHING RETURNING our_number, counterpart"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [v for c in chunk for v in (*values(c), 1)])
            inserted.update(map(tuple, cursor.fetchall()))
    return inserted


def _save(changes: list[_Change]) -> None:
    """Write the changed conversations (unread as an increment) and their numbers'
    counters (each number's version moves on)."""
    columns, values = _columns(_WRITTEN)
    table = connection.ops.quote_name(Conversation._meta.db_table)
    assignments = ", ".join(f"{column} = %s" for column in columns)
    # Only names from the model are formatted in; every value is a parameter.
    sql = (
        f"UPDATE {table} SET {assignments}, unread = unread + %s, "  # noqa: S608
        "version = version + 1 WHERE id = %s"
    )
    rows = [
        [*values(c.conversation), c.conversation.unread - c.unread_before, c.conversation.pk]
        for c in changes
        if not (c.removed or c.inserted)
    ]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)
    removed = [c.conversation.pk for c in changes if c.removed]
    if removed:
        Conversation.objects.filter(pk__in=removed).delete()
    _count(changes)


def _count(changes: list[_Change]) -> None:
    deltas: dict[str, list[int]] = {}
    for change in changes:
        after = (False, False) if change.removed else _flags(change.conversation)
        delta = deltas.setdefault(change.conversation.our_number, [0, 0])
        for i in (0, 1):
            delta[i] += int(after[i]) - int(change.flags_before[i])
    _bump_counters([(number, *delta) for number, delta in sorted(deltas.items())])


def _bump_counters(rows: list[tuple[str, int, int]], using: str = DEFAULT_DB_ALIAS) -> None:
    """Add (our number, unread delta, needs-reply delta) to each number's counters and move
    its version on; the first change of a number creates its row."""
    db = connections[using]
    table = db.ops.quote_name(InboxCounter._meta.db_table)
    sql = (
        f"INSERT INTO {table} (our_number, unread, needs_reply, version) "  # noqa: S608
        "VALUES (%s, %s, %s, 1) ON CONFLICT (our_number) DO UPDATE SET "
        f"unread = {table}.unread + EXCLUDED.unread, "
        f"needs_reply = {table}.needs_reply + EXCLUDED.needs_reply, "
        f"version = {table}.version + 1"
    )
    if rows:
        with db.cursor() as cursor:
            cursor.executemany(sql, rows)


def status_changed(*, sid: str, status: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """A message moved to `status`: only the conversation whose newest message it is
    changes, in one indexed conditional UPDATE, and its number's version moves (written as
    SQL, as advance_status is: every status callback that moves a message runs it; they
    cost a callback about 5 % more CPU, bench/README.md)."""
    db = connections[using]
    table = db.ops.quote_name(Conversation._meta.db_table)
    sql = (
        f"UPDATE {table} SET last_status = %s, version = version + 1 "  # noqa: S608
        "WHERE last_sid = %s RETURNING our_number"
    )
    with db.cursor() as cursor:
        cursor.execute(sql, [status, sid])
        numbers = [row[0] for row in cursor.fetchall()]
    _bump_counters([(number, 0, 0) for number in numbers], using)


def refresh_newest(records: list[dict[str, Any]]) -> None:
    """Messages mirrored again with a changed status or body (a sync): conversations
    whose newest message one of them is show it as it is now."""
    by_sid = {r["sid"]: r for r in records}
    if not by_sid:
        return
    shown = Conversation.objects.filter(last_sid__in=by_sid).values_list(
        "id", "our_number", "last_sid", "last_status", "last_body", "last_media"
    )
    rows, numbers = [], set()
    for pk, number, sid, status, body, media in shown:
        new = by_sid[sid]
        now = (new["status"], new["body"][: Message.SUMMARY_BODY_CHARS], new["num_media"])
        if now != (status, body, media):
            rows.append([*now, pk, sid])
            numbers.add(number)
    if not rows:
        return
    table = connection.ops.quote_name(Conversation._meta.db_table)
    sql = (
        f"UPDATE {table} SET last_status = %s, last_body = %s, last_media = %s, "  # noqa: S608
        "version = version + 1 WHERE id = %s AND last_sid = %s"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    _bump_counters([(number, 0, 0) for number in sorted(numbers)])


@transaction.atomic(savepoint=False)
def message_deleted(message: dict[str, Any]) -> None:
    """A message (a row of MESSAGE_FIELDS, read before it was deleted) is gone: its
    conversation shows what is left, counts it no more, or goes when nothing is left."""
    ours, theirs = Conversation.pair_of(
        message["direction"], message["from_number"], message["to_number"]
    )
    conversation = (
        Conversation.objects.select_for_update().filter(our_number=ours, counterpart=theirs).first()
    )
    if conversation is None:
        return
    change = _started(conversation)
    key = (message["date_created"], message["id"])
    inbound = message["direction"] == Message.Direction.INBOUND
    if inbound and conversation.unread and conversation.counted_unread(key):
        conversation.unread -= 1
    if conversation.last_sid == message["sid"]:
        newest = _newest(ours, theirs)
        if newest is None:
            change.removed = True
            return _save([change])
        conversation.show_last(newest)
    if key == conversation.patient_key:
        conversation.keep_patient(_newest(ours, theirs, Message.Direction.INBOUND))
    if key == conversation.staff_key:
        conversation.keep_staff(_newest(ours, theirs, Message.Direction.OUTBOUND_API))
    conversation.needs_reply = conversation.answer_due()
    _save([change])


def _newest(ours: str, theirs: str, direction: str | None = None) -> dict[str, Any] | None:
    """The pair's newest message (of `direction`): one range scan per leg of
    message_pair_newest."""
    legs = []
    if direction != Message.Direction.INBOUND:
        legs.append(Message.objects.filter(from_number=ours, to_number=theirs))
    if direction in (None, Message.Direction.INBOUND):
        legs.append(Message.objects.filter(from_number=theirs, to_number=ours))
    found = []
    for leg in legs:
        if direction:
            leg = leg.filter(direction=direction)
        found += leg.order_by("-date_created", "-id").values(*MESSAGE_FIELDS)[:1]
    return max(found, key=lambda m: (m["date_created"], m["id"]), default=None)


# --- staff read a conversation -------------------------------------------------------------


def mark_read(
    *, our_number: str, counterpart: str, user, upto: str = "", actor: audit.Actor = audit.SYSTEM
) -> int:
    """Staff have read the conversation up to the message `upto` (the newest one the page
    showed; without it, up to its newest message now). Inbound texts newer than that stay
    unread; returns how many.

    The conversation's row is locked before the texts are counted (module docstring): an
    inbound text stored meanwhile is counted here or adds itself after, never lost."""
    with write_lock(), transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update()
            .filter(our_number=our_number, counterpart=counterpart)
            .first()
        )
        if conversation is None:
            raise NotFound(f"There is no conversation between {our_number} and {counterpart} yet.")
        change = _started(conversation)
        seen = _shown(conversation, upto) if upto else conversation.last_key
        if conversation.seen_key is None or seen > conversation.seen_key:
            conversation.seen_at, conversation.seen_message_id = seen
        conversation.unread = _inbound_after(conversation) if upto else 0
        conversation.last_read_by = user
        conversation.last_read_at = timezone.now()
        _save([change])
        audit.record(
            audit.Action.CONVERSATION_MARKED_READ,
            target=counterpart,
            actor=actor,
            patient_number=counterpart,
        )
    return conversation.unread


def _shown(conversation: Conversation, sid: Any) -> tuple[Any, int]:
    """The key of message `sid` of this conversation (InvalidInput naming `upto`)."""
    problem = InvalidInput(
        {
            "upto": "upto must be the SID of a message in this conversation (the newest "
            f"one the page shows); {str(sid)[:40]!r} is not."
        }
    )
    if not isinstance(sid, str) or not is_sid(sid, ("SM", "MM")):
        raise problem
    row = Message.objects.filter(sid=sid).values(*MESSAGE_FIELDS).first()
    pair = (conversation.our_number, conversation.counterpart)
    if (
        row is None
        or Conversation.pair_of(row["direction"], row["from_number"], row["to_number"]) != pair
    ):
        raise problem
    return row["date_created"], row["id"]


def _inbound_after(conversation: Conversation) -> int:
    """Inbound texts newer than what staff were shown: one range scan of
    message_pair_newest, as long as the texts that came since."""
    when, pk = conversation.seen_key
    texts = Message.objects.filter(
        from_number=conversation.counterpart,
        to_number=conversation.our_number,
        direction=Message.Direction.INBOUND,
        date_created__gte=when,
    ).filter(Q(date_created__gt=when) | Q(id__gt=pk))
    return texts.count()


# --- reading the inbox ---------------------------------------------------------------------


def conversation_page(
    *,
    our_number: str,
    filter: str = "all",
    limit: int = DEFAULT_PAGE_SIZE,
    before: str | None = None,
    counterparts: list[str] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The number's conversations, newest activity first, as Conversation.item()s: one
    page and the next page's cursor (None on the last). One index range scan
    (conversation_newest, or the unread / needs_reply partial index); `counterparts`
    keeps only the conversations with those numbers."""
    if filter not in FILTERS:
        raise InvalidInput({"filter": "filter must be all, unread or needs_reply."})
    cursor = decode_cursor(before) if before else None
    conversations = Conversation.objects.filter(our_number=our_number)
    if counterparts is not None:
        conversations = conversations.filter(counterpart__in=counterparts)
    if filter == "unread":
        conversations = conversations.filter(unread__gt=0)
    elif filter == "needs_reply":
        conversations = conversations.filter(needs_reply=True)
    rows = older_than(conversations, cursor, field="last_at").values(*Conversation.ITEM_FIELDS)
    page, next_cursor = paged(list(rows[: limit + 1]), limit, field="last_at")
    return [Conversation.item(row) for row in page], next_cursor


def counts(*, counterparts: list[str] | None = None) -> dict[str, Any]:
    """inbox_counts: conversations with unread texts and needing a reply, in all and per
    number of ours, with each number's version (it moves with every change to one of its
    conversations). One query: the counters, or with `counterparts` (a session limited to
    one patient) that patient's conversations."""
    if counterparts is None:
        rows = InboxCounter.objects.values_list("our_number", "unread", "needs_reply", "version")
    else:
        per_number: dict[str, list[int]] = {}
        for number, unread, needs_reply, version in Conversation.objects.filter(
            counterpart__in=counterparts
        ).values_list("our_number", "unread", "needs_reply", "version"):
            totals = per_number.setdefault(number, [0, 0, 0])
            totals[0] += unread > 0
            totals[1] += needs_reply
            totals[2] += version
        rows = [(number, *totals) for number, totals in per_number.items()]
    numbers = {
        number: {"unread": unread, "needsReply": needs_reply, "version": version}
        for number, unread, needs_reply, version in sorted(rows)
    }
    return {
        "unread": sum(n["unread"] for n in numbers.values()),
        "needsReply": sum(n["needsReply"] for n in numbers.values()),
        "numbers": numbers,
    }


def patient_changed(*patient_numbers: str) -> None:
    """Something the list shows of patients changed outside their messages (their consent,
    their name in the directory): their conversations' versions and their numbers' counters
    move on, so lists and threads polling with ETags look again."""
    conversations = Conversation.objects.filter(counterpart__in=patient_numbers)
    numbers = sorted(set(conversations.values_list("our_number", flat=True)))
    conversations.update(version=models.F("version") + 1)
    _bump_counters([(number, 0, 0) for number in numbers])


def list_version(*, our_number: str, counterparts: list[str] | None = None) -> int:
    """What moves whenever the number's list (or, with `counterparts`, those conversations)
    changes: the list's ETag. One indexed lookup (versions only grow, so their sum moves
    with any of them)."""
    if counterparts is None:
        row = InboxCounter.objects.filter(our_number=our_number).values_list("version").first()
        return row[0] if row else 0
    found = Conversation.objects.filter(our_number=our_number, counterpart__in=counterparts)
    return sum(found.values_list("version", flat=True))
