"""The stand-in's own jobs: a sent message's status steps (queued → sent → delivered),
each a job with `run_after`, as Twilio moves a message along after answering the POST."""

from __future__ import annotations

from django_tasks import task


@task()
def status_step(sid: str, status: str) -> str:
    """Move a sandbox message to `status`, post its signed status callback, and queue the
    next step."""
    from twilio_sandbox import engine

    return engine.step(sid, status)
