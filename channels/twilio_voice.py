"""Voice calls through Twilio's Calls API, and the TwiML the call's webhooks answer with.

The call is placed with answering-machine detection that waits for the end of a voicemail greeting
(``DetectMessageEnd``): Twilio then fetches the TwiML URL with ``AnsweredBy`` set, so the webhook answers a
person with :func:`call_twiml` (the message and a one-digit keypad question) and a voicemail with
:func:`voicemail_twiml` (a short message after the beep). A key press goes to the gather URL, answered with
:func:`gather_reply_twiml`. These builders are pure: the web app's webhooks call them.

``find_sent`` looks a call up for the reconciler. A Call resource does not echo the TwiML URL or the status
callback (Twilio's OpenAPI lists neither), so nothing on it names our outbox id: a call is ours when it went
to the same number from our caller id, created no earlier than the claim (less the clock skew) or, without a
claim time, on the same UTC day. Two lists are read, ``StartTime>`` and ``Status=queued``, because a call
still waiting in Twilio's queue has no start time and matches no time filter. Residual ambiguity: two calls
to the same number in that window cannot be told apart; the newest is taken (the stuck row's claim is the
most recent attempt), so with no claim time an earlier call that day to the same number can be recorded as
this message's and this one is not placed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from channels.base import OutgoingMessage, Receipt
from channels.config import TwilioConfig
from channels.rate_limit import RateLimiter
from channels.status import DeliveryStatus
from channels.twilio_client import ApiBaseHttpClient, make_client, twilio_errors
from channels.twilio_lookup import (
    LOOKUP_PAGE_SIZE,
    created_since,
    lookup_errors,
    lookup_since,
    newest,
    start_of_utc_day,
)

log = logging.getLogger(__name__)

CALL_STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
RING_SECONDS = 30  # long enough for a parent to find the phone, short of most voicemail pick-up times
GATHER_SECONDS = 8


def call_status(word: str | None) -> DeliveryStatus:
    """Our status for Twilio's call status word (``in-progress`` is answered; unknown words are queued)."""
    if word == "in-progress":
        return DeliveryStatus.ANSWERED
    try:
        return DeliveryStatus(word or "queued")
    except ValueError:
        return DeliveryStatus.QUEUED


def is_voicemail(answered_by: str | None) -> bool:
    """True for Twilio's ``AnsweredBy`` values that mean a machine (leave the short message)."""
    return bool(answered_by) and str(answered_by).startswith(("machine", "fax"))


def _say(parent: VoiceResponse, text: str, voice_language: str | None, voice_name: str | None) -> None:
    parent.say(text, voice=voice_name or None, language=voice_language or None)


def call_twiml(
    spoken_text: str,
    voice_language: str | None,
    voice_name: str | None,
    gather_action_url: str,
    prompt: str,
    *,
    goodbye: str | None = None,
) -> str:
    """TwiML for a person who answered: the message, then one keypad digit posted to ``gather_action_url``.

    The message is spoken inside the Gather, so a parent who already knows the answer can press early."""
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1, action=gather_action_url, method="POST", timeout=GATHER_SECONDS, action_on_empty_result=False
    )
    _say(gather, spoken_text, voice_language, voice_name)
    if prompt:
        _say(gather, prompt, voice_language, voice_name)
    if goodbye:
        # Reached only when nobody pressed a key.
        _say(response, goodbye, voice_language, voice_name)
    response.hangup()
    return str(response)


def voicemail_twiml(spoken_text: str, voice_language: str | None, voice_name: str | None) -> str:
    """TwiML for a voicemail: a short message after the beep, then hang up (a machine cannot press keys)."""
    response = VoiceResponse()
    response.pause(length=1)  # DetectMessageEnd fires at the beep; a breath keeps the first word recorded
    _say(response, spoken_text, voice_language, voice_name)
    response.hangup()
    return str(response)


def gather_reply_twiml(thanks_text: str, voice_language: str | None, voice_name: str | None) -> str:
    """TwiML after a key press: thank the parent and hang up."""
    response = VoiceResponse()
    _say(response, thanks_text, voice_language, voice_name)
    response.hangup()
    return str(response)


class TwilioVoiceChannel:
    """``send`` places one call whose TwiML is served by our webhook for this outbox message."""

    name = "voice"

    def __init__(self, config: TwilioConfig, limiter: RateLimiter | None = None) -> None:
        caller = config.voice_from or config.from_number
        if not caller:
            raise ValueError("Twilio voice needs TWILIO_VOICE_FROM or TWILIO_FROM_NUMBER")
        self.config = config
        self.caller = caller
        self._owns_limiter = limiter is None
        self.limiter = limiter or RateLimiter(config.calls_per_second)
        self.client = make_client(config.account_sid, config.auth_token, config.api_url, config.timeout, self.limiter)
        self._http: ApiBaseHttpClient = self.client.http_client

    def create_params(self, message: OutgoingMessage) -> dict[str, object]:
        """The keyword arguments for ``client.calls.create`` (public for tests)."""
        return {
            "to": message.to,
            "from_": self.caller,
            "url": self.config.voice_url(message.message_id),
            "method": "POST",
            "status_callback": self.config.status_callback_url,
            "status_callback_method": "POST",
            "status_callback_event": CALL_STATUS_EVENTS,
            "machine_detection": "DetectMessageEnd",
            "timeout": RING_SECONDS,
        }

    def send(self, message: OutgoingMessage) -> Receipt:
        """Place the call; raise PermanentDeliveryError / TransientDeliveryError on refusal."""
        params = self.create_params(message)
        with twilio_errors(self._http, message.idempotency_key):
            call = self.client.calls.create(**params)
        log.info("call placed", extra={"message_id": message.message_id, "provider_id": call.sid})
        return Receipt(provider_id=str(call.sid), status=call_status(call.status), channel="voice")

    def find_sent(self, message: OutgoingMessage) -> Receipt | None:
        """Twilio's receipt for the call ``message`` asked for, if Twilio has it, else None (see the module's
        docstring for the matching and its ambiguity); TransientDeliveryError when Twilio could not be asked."""
        since = lookup_since(message)
        with lookup_errors(self._http):
            started = self.client.calls.list(to=message.to, from_=self.caller,
                                             start_time_after=start_of_utc_day(since), page_size=LOOKUP_PAGE_SIZE)
            waiting = self.client.calls.list(to=message.to, from_=self.caller, status="queued",
                                             page_size=LOOKUP_PAGE_SIZE)
        found = self._newest_match([*started, *waiting], message, since)
        if found is None:
            return None
        log.info("call found at provider", extra={"message_id": message.message_id, "provider_id": found.sid})
        return Receipt(provider_id=str(found.sid), status=call_status(found.status), channel="voice")

    def _newest_match(self, records: list[Any], message: OutgoingMessage, since: datetime) -> Any | None:
        def ours(record: Any) -> bool:
            return (str(record.direction or "").startswith("outbound") and record.to == message.to
                    and record._from == self.caller and created_since(record, since))

        return newest(r for r in records if ours(r))

    def close(self) -> None:
        """Close the HTTP connections (idempotent)."""
        self._http.close()
        if self._owns_limiter:
            self.limiter.close()
