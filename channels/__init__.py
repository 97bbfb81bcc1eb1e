"""Delivery channels: one small contract (``send(message) -> Receipt``, ``close()``) and one module per
provider. Vendor SDKs (twilio, aiosmtplib, aiosmtpd) are imported only inside this package.

- ``base``: OutgoingMessage, Receipt, the Channel protocol; ``errors``: Permanent/TransientDeliveryError;
  ``status``: DeliveryStatus and Twilio status callbacks parsed.
- ``twilio_sms``, ``twilio_voice`` (+ TwiML builders), ``twilio_client`` (the SDK pinned to TWILIO_API_URL,
  error mapping), ``smtp_email`` (pooled aiosmtplib), ``memory`` (an in-memory outbox for tests).
- ``rate_limit``: the provider's MPS cap, in-process or shared through Redis.
- ``config`` + ``factory``: ``build_channels(ChannelConfig) -> ChannelSet``.
- ``sandbox``: the Twilio REST fake and the SMTP server, shipped for the demo, tests and benchmarks.
"""
