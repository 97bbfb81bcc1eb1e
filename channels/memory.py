"""An in-memory outbox channel: records what it was asked to send (tests, dry runs)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping

from channels.base import OutgoingMessage, Receipt
from channels.errors import PermanentDeliveryError, TransientDeliveryError
from channels.status import DeliveryStatus

Fault = PermanentDeliveryError | TransientDeliveryError


class MemoryChannel:
    """Keeps every accepted message in ``outbox``; ``faults`` maps an address to the error it raises.

    Sending the same idempotency key twice is accepted once and answered with the first receipt, as a
    provider with idempotency keys would; ``sends_per_key`` shows how often each key was asked for.
    ``find_sent`` answers from the same record (by idempotency key), so the memory channel keeps the
    optional ProviderLookup contract like the Twilio adapters; ``lookup_fault`` makes lookups fail."""

    def __init__(
        self,
        name: str = "sms",
        *,
        faults: Mapping[str, Fault | Callable[[OutgoingMessage], Fault]] | None = None,
    ) -> None:
        self.name = name
        self.outbox: list[OutgoingMessage] = []
        self.faults: dict[str, Fault | Callable[[OutgoingMessage], Fault]] = dict(faults or {})
        self.sends_per_key: dict[str, int] = {}
        self.closed = False
        self.lookup_fault: TransientDeliveryError | None = None
        self._receipts: dict[str, Receipt] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> Receipt:
        """Record ``message`` (or raise the fault configured for its address)."""
        with self._lock:
            if self.closed:
                raise RuntimeError("channel is closed")
            self.sends_per_key[message.idempotency_key] = self.sends_per_key.get(message.idempotency_key, 0) + 1
            fault = self.faults.get(message.to)
            if fault is not None:
                raise fault(message) if callable(fault) else fault
            known = self._receipts.get(message.idempotency_key)
            if known is not None:
                return known
            self.outbox.append(message)
            receipt = Receipt(f"MEM{next(self._ids):08d}", DeliveryStatus.QUEUED, self.name)
            self._receipts[message.idempotency_key] = receipt
            return receipt

    def find_sent(self, message: OutgoingMessage) -> Receipt | None:
        """The receipt of the accepted message with ``message``'s idempotency key, or None."""
        with self._lock:
            if self.closed:
                raise RuntimeError("channel is closed")
            if self.lookup_fault is not None:
                raise self.lookup_fault
            return self._receipts.get(message.idempotency_key)

    def close(self) -> None:
        """Idempotent; later sends raise RuntimeError."""
        self.closed = True
