"""Twilio's fixed facts, written once: where its REST API lives and the limits it sets."""

API_BASE = "https://api.twilio.com"
API_VERSION = "2010-04-01"
API_HOST = "api.twilio.com"

MAX_MEDIA = 10  # media items per message
MAX_BODY_LENGTH = 1600  # characters of one message body
MAX_PAGE_SIZE = 1000  # records per page of a list call
