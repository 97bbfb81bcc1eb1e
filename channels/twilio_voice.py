"""Voice calls through Twilio's Calls API, and the TwiML the call's webhooks answer with.

The call is placed with answering-machine detection that waits for the end of a voicemail greeting
(``DetectMessageEnd``): Twilio then fetches the TwiML URL with ``AnsweredBy`` set, so the webhook answers a
person with :func:`call_twiml` (the message and a one-digit keypad question) and a voicemail with
:func:`voicemail_twiml` (a short message after the beep). A key press goes to the gather URL, answered with
:func:`gather_reply_twiml`. These builders are pure: the web app's webhooks call them.
"""

from __future__ import annotations

import logging

from twilio.twiml.voice_response import VoiceResponse

from channels.base import OutgoingMessage, Receipt
from channels.config import TwilioConfig
from channels.rate_limit import RateLimiter
from channels.status import DeliveryStatus
from channels.twilio_client import ApiBaseHttpClient, make_client, twilio_errors

log = logging.getLogger(__name__)

CALL_STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
RING_SECONDS = 30  # long enough for a parent to find the phone, short of most voicemail pick-up times
GATHER_SECONDS = 8


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
        try:
            status = DeliveryStatus(call.status or "queued")
        except ValueError:
            status = DeliveryStatus.QUEUED
        return Receipt(provider_id=str(call.sid), status=status, channel="voice")

    def close(self) -> None:
        """Close the HTTP connections (idempotent)."""
        self._http.close()
        if self._owns_limiter:
            self.limiter.close()
