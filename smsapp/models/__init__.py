"""The app's records. One module per concern; every model is importable from here.

mirror.py      the local mirror of the Twilio account: Phone, Message, Media,
               StatusEvent, and SyncRun (each time it was brought up to date)
auto_reply.py  AutoReplyRule: how the app answers an inbound message, and
               AfterHoursReply (when an after-hours rule last answered a patient)
consent.py     Consent (whether a patient may be texted now) and ConsentEvent (its history)
canvas.py      LaunchTokenUse (Canvas launch tokens already used), the patient directory
               (CanvasPatient, PatientNumber, NumberLink) and ChartRecord (a text on its
               way into a patient's chart)
inbox.py       Conversation (one per pair of numbers) and InboxCounter (per number of
               ours): what the inbox lists and counts, without reading messages
outbound.py    ScheduledMessage (send later, exactly once) and SendAttempt (a send whose
               outcome is unknown, until it is looked up on Twilio)
templates.py   MessageTemplate: quick replies staff fill in and edit
queue.py       PeriodicJob and QueueWorker: what the task queue's workers keep
audit.py       AuditEvent (who did what, append-only) and AuditRetention (how long kept)
"""

from smsapp.models.audit import AuditEvent, AuditRetention
from smsapp.models.auto_reply import AfterHoursReply, AutoReplyRule
from smsapp.models.canvas import (
    CanvasPatient,
    ChartRecord,
    LaunchTokenUse,
    NumberLink,
    PatientNumber,
)
from smsapp.models.consent import Consent, ConsentEvent
from smsapp.models.inbox import Conversation, InboxCounter
from smsapp.models.mirror import Media, Message, Phone, StatusEvent, SyncRun
from smsapp.models.outbound import ScheduledMessage, SendAttempt
from smsapp.models.queue import PeriodicJob, QueueWorker
from smsapp.models.templates import MessageTemplate

__all__ = [
    "AfterHoursReply",
    "AuditEvent",
    "AuditRetention",
    "AutoReplyRule",
    "CanvasPatient",
    "ChartRecord",
    "Consent",
    "ConsentEvent",
    "Conversation",
    "InboxCounter",
    "LaunchTokenUse",
    "Media",
    "Message",
    "MessageTemplate",
    "NumberLink",
    "PatientNumber",
    "PeriodicJob",
    "Phone",
    "QueueWorker",
    "ScheduledMessage",
    "SendAttempt",
    "StatusEvent",
    "SyncRun",
]
