"""Sandboxes shipped with the product (demo, tests, benchmarks): a fake of the part of Twilio's REST API
the gateway uses (:mod:`channels.sandbox.twilio_api`) and an SMTP server with a mailbox
(:mod:`channels.sandbox.smtp_server`). Both run in a thread on a free local port."""
