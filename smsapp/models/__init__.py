"""The app's records. One module per concern; every model is importable from here.

mirror.py      the local mirror of the Twilio account: Phone, Message, Media,
               StatusEvent, and SyncRun (each time it was brought up to date)
auto_reply.py  AutoReplyRule: how the app answers an inbound message
canvas.py      LaunchTokenUse: Canvas launch tokens already used
"""

from smsapp.models.auto_reply import AutoReplyRule
from smsapp.models.canvas import LaunchTokenUse
from smsapp.models.mirror import Media, Message, Phone, StatusEvent, SyncRun
from smsapp.models.queue import PeriodicJob, QueueWorker

__all__ = [
    "AutoReplyRule",
    "LaunchTokenUse",
    "Media",
    "Message",
    "PeriodicJob",
    "Phone",
    "QueueWorker",
    "StatusEvent",
    "SyncRun",
]
