"""Signing at the edge: what every signer of the log (device or operator) runs.

- :mod:`signer.identity`: a signer's Ed25519 key and its durable, gap-free
  sequence numbers;
- :mod:`signer.outbox`: the durable queue of signed entries not yet receipted;
- :mod:`signer.device`: identity + outbox, the signing half of a device;
- :mod:`signer.mqtt_link`, :mod:`signer.fleet`, :mod:`signer.serial_link`,
  :mod:`signer.bridge`, :mod:`signer.transport`: how signed entries reach the
  gateway (MQTT directly, or a serial line that a bridge forwards) and how
  receipts come back;
- :mod:`signer.operator_events`: the operators' signing path (events and
  registrations checked against the log before they are signed), used by the
  desk and the command line; :mod:`signer.log_checks` asks a read API (any
  :class:`~signer.log_checks.LogReader`) before signing, :mod:`signer.event_text`
  turns typed subjects into ids, :mod:`signer.registration` signs and sends
  the registrations of operators and devices.

It imports only :mod:`chain` (the wire format and entry formats).
"""
