"""One device's firmware core: sample, sign, keep, and forget on receipt.

This is the piece every transport (MQTT, serial) plugs into; it does no
network I/O itself. The order of operations is what makes delivery end to
end (design.md section 4):

1. :meth:`Device.record` checks the outbox has room, signs the reading with
   the next seq (durably reserved, :mod:`signer.identity`), and puts it
   in the outbox (durable, :mod:`signer.outbox`). Only then may a
   transport send it.
2. A transport sends :meth:`Device.unsent` entries, in seq order, after a
   cursor it keeps in memory; after a reconnect it restarts from
   :attr:`Device.acknowledged` and resends everything still kept.
3. When the gateway's receipt arrives, :meth:`Device.apply_receipt` deletes
   what it covers.

Seqs without holes: a clean shutdown gives unused reserved seqs back
(:meth:`DeviceIdentity.close`). After a crash, the seqs of the block the
crashed session held (:attr:`DeviceIdentity.crashed_block`) that lie above
everything the outbox ever held were never stored, so never sent; the
device declares them at start with a signed ``gap`` entry
``{"type":"gap","dev","seq","ts","from","to"}`` queued like any reading, so
that auditors can tell them from entries that went missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from chain.entries import gap_payload
from chain.errors import MalformedWireError, StorageError
from chain.jws import MAX_ENTRY_BYTES
from chain.wire import DeviceStatus, Receipt
from signer.errors import OutboxFullError
from signer.identity import DeviceIdentity
from signer.outbox import Outbox, OutboxEntry

__all__ = ["Device", "ReadingFields"]

ReadingFields = tuple[str, str, float, str, int]
"""``(kind, subject, value, unit, ts)``: one reading to sign."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Device:
    """A device's identity and outbox, used together.

    If the last session crashed holding a block of seqs, those of them above
    everything the outbox ever held were never used: the constructor signs a
    ``gap`` entry declaring them, dated ``clock()`` (ms), and keeps it like a
    reading; :attr:`declared_gap` is then the ``(from, to)`` range. When the
    outbox has no room for it, it is held in memory and kept first, as
    :meth:`record` does. Precondition: ``identity`` has handed out no seq yet
    (else nothing is declared: its seqs may be in use elsewhere).

    Raises (constructor):
        StorageError: the outbox holds seqs the identity has not reserved
            (state restored from an old backup: signing would reuse seqs), or
            the seq state or the outbox failed while declaring a gap.
    """

    def __init__(
        self, identity: DeviceIdentity, outbox: Outbox, *, clock: Callable[[], int] = _now_ms
    ) -> None:
        if outbox.highest_seq > identity.reserved:
            raise StorageError(
                f"{identity.id}: expected the seq state to cover the outbox, found reserved "
                f"{identity.reserved} below outbox seq {outbox.highest_seq}"
            )
        self.identity = identity
        self.outbox = outbox
        self._held: list[OutboxEntry] = []
        self.declared_gap: tuple[int, int] | None = None
        crashed = identity.crashed_block
        if crashed is not None and identity.last_seq == 0:
            first, last = max(crashed[0], outbox.highest_seq + 1), crashed[1]
            if first <= last:
                self._declare_gap(first, last, clock())

    def _declare_gap(self, first: int, last: int, ts: int) -> None:
        raw = self.identity.sign_payload(lambda seq: gap_payload(self.id, seq, ts, first, last))
        self.declared_gap = (first, last)
        try:
            self.outbox.put(self.identity.last_seq, raw)
        except OutboxFullError:
            self._held = [OutboxEntry(self.identity.last_seq, raw)]

    def status(self, fw: str | None = None) -> DeviceStatus:
        """The ``online`` status to publish: outbox size, oldest kept ts, ``fw``, lowest kept seq.

        Raises:
            StorageError: the outbox failed.
        """
        return DeviceStatus(
            "online",
            outbox=self.outbox.count,
            oldest_ts=self.outbox.oldest_ts(),
            fw=fw,
            low=self.outbox.lowest_seq,
        )

    @property
    def id(self) -> str:
        """The device id."""
        return self.identity.id

    @property
    def acknowledged(self) -> int:
        """The highest seq the gateway's receipts have covered."""
        return self.outbox.acknowledged

    def record(self, kind: str, subject: str, value: float, unit: str, ts: int) -> int:
        """Sign a reading and keep it in the outbox; return its seq.

        If the outbox refused an already signed entry (the disk filled up),
        that entry is held in memory and put again first, before anything
        new is signed.

        Raises:
            OutboxFullError: the outbox is full; nothing new was signed and no
                seq used. Stop sampling until a receipt frees space.
            MalformedEntryError: the fields would not make a valid reading
                (no seq was used).
            StorageError: the seq state or the outbox failed.
        """
        self._put_held()
        self.outbox.check_room()
        raw = self.identity.sign_reading(kind, subject, value, unit, ts)
        seq = self.identity.last_seq
        try:
            self.outbox.put(seq, raw)
        except OutboxFullError:
            self._held = [OutboxEntry(seq, raw)]
            raise
        return seq

    def record_many(self, readings: Sequence[ReadingFields]) -> int:
        """Sign and keep as many of ``readings`` as fit, in order, with one commit.

        For backfills: one durable seq reservation and one outbox transaction
        for the whole batch. Returns how many were recorded (a prefix of
        ``readings``); fewer than all means the outbox is full: stop, and
        give the rest again once receipts have freed space.

        Raises:
            OutboxFullError: not even the first fits (nothing signed), or the
                disk is full (the signed batch is held as for :meth:`record`).
            MalformedEntryError: a reading is invalid (nothing signed).
            StorageError: the seq state or the outbox failed.
        """
        self._put_held()
        self.outbox.check_room()
        room = (self.outbox.max_bytes - self.outbox.bytes_used) // MAX_ENTRY_BYTES
        batch = readings[: max(1, room)]
        signed = [OutboxEntry(seq, raw) for seq, raw in self.identity.sign_readings(batch)]
        try:
            self.outbox.put_many(signed)
        except OutboxFullError:
            self._held = signed
            raise
        return len(signed)

    def unsent(self, after_seq: int = 0, limit: int = 100) -> list[OutboxEntry]:
        """Kept entries with seq > ``after_seq`` (default: all), in seq order, at most ``limit``."""
        return self.outbox.pending(after_seq, limit)

    def receipt(self, up_to_seq: int) -> int:
        """Apply the gateway's cumulative receipt; return how many entries it released."""
        return self.outbox.acknowledge(up_to_seq)

    def apply_receipt(self, receipt: Receipt) -> int:
        """Release every kept entry ``receipt`` covers (its seq and its ranges), durably.

        Returns how many entries were released.

        Raises:
            MalformedWireError: the receipt is for another device, or covers
                seqs this device never reserved (a receipt left over from an
                earlier identity under the same id: applying it would make the
                outbox refuse this device's own next entries).
            StorageError: the outbox failed (nothing was released).
        """
        if receipt.dev != self.id:
            raise MalformedWireError(f"receipt for {receipt.dev!r} sent to device {self.id!r}")
        top = max([receipt.seq, *(last for _, last in receipt.ranges)])
        if top > self.identity.reserved:
            raise MalformedWireError(
                f"{self.id}: receipt covers seq {top}, above every seq this device reserved "
                f"({self.identity.reserved}); a receipt of an earlier identity? ignored"
            )
        return self.outbox.release(receipt.seq, receipt.ranges)

    def _put_held(self) -> None:
        if self._held:
            self.outbox.put_many(self._held)
            self._held = []
