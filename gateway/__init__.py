"""The parent communication gateway: attendance messages to parents by SMS, e-mail and voice."""

__version__ = "0.1.0"
