"""The back office, one module per concern (each registers its own pages):

    mirror.py    the mirror read-only where Twilio is the source of truth, sync runs, and
                 the inbox's conversations
    outbound.py  auto-reply rules and message templates (editable, each change in the
                 audit trail), scheduled texts and unknown-outcome sends (to look at)
    consent.py   patients' consent and its history (staff add a change with a note)
    canvas.py    the patient directory, staff's links and texts on their way into charts
    audit.py     the audit trail, read-only for everyone
    base.py      what they share

Background jobs, with a failed one's error, are django-tasks-db's own admin ("Task
results")."""

from smsapp.admin import audit, canvas, consent, mirror, outbound  # noqa: F401 - they register
