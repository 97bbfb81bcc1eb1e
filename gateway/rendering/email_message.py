"""A rendered e-mail as an RFC 5322 message: multipart/alternative, the plain-text part always first."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from .renderer import RenderedMessage


def build_email_message(rendered: RenderedMessage, *, sender: str, recipient: str,
                        reply_to: str | None = None) -> EmailMessage:
    """The e-mail for ``rendered`` (channel ``email``): text/plain, then text/html as the alternative.

    ``Content-Language`` carries the locale so mail clients and screen readers pick the right voice.
    """
    if rendered.channel != "email" or rendered.subject is None:
        raise ValueError(f"not an e-mail rendering: {rendered.kind} for {rendered.channel}")
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = recipient
    if reply_to:
        message["Reply-To"] = reply_to
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    if rendered.html:
        message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    # After the body: set_content() drops every Content-* header already present.
    message["Content-Language"] = rendered.locale
    return message
