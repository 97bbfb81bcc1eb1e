"""Delivery channels: one small contract (``send(message) -> Receipt``, ``close()``) and one module per
provider. Vendor SDKs (twilio, aiosmtplib, aiosmtpd) are imported only inside this package."""
