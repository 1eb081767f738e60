"""The refusals the app's functions raise; the API turns each into its error shape
(smsapp.web.decorators.api_view)."""

from __future__ import annotations


class InvalidInput(Exception):
    """Input the API refuses (400): `fields` maps each request key at fault to a sentence."""

    def __init__(self, fields: dict[str, str], information: str | None = None) -> None:
        self.fields = fields
        self.information = information or next(iter(fields.values()))
        super().__init__(self.information)


class NotFound(Exception):
    """No such record (404): the message is the sentence."""


class Forbidden(Exception):
    """The caller may not do this (403): the message is the sentence."""


class Conflict(Exception):
    """The record is not in a state that allows this (409): the message is the sentence;
    `fields` names the request keys at fault, when there are some."""

    def __init__(self, information: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(information)
        self.fields = fields


class OptedOut(Conflict):
    """A text to a patient who opted out (409), refused before Twilio is called: the
    sentence says when and how they opted out and that they can text START."""

    def __init__(self, information: str) -> None:
        super().__init__(information, {"numberTo": information})
