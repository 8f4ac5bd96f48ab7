"""What runs on a real device: hardware drivers and the sampling loop.

- :mod:`devices.hardware`: sensor drivers (the DS18B20 over 1-Wire);
- :mod:`devices.sampling`: the loop that samples a sensor (real, or one of
  :mod:`firmware_sim`'s models) and records signed readings with
  :class:`signer.device.Device`;
- :mod:`devices.service`: a device as a service: its settings (device.toml),
  its sensor and its sampling run (``farmtrace device run``).
"""
