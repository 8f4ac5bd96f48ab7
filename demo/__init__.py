"""The demo farm: a story farm built offline and the live demo that `make demo` runs.

- :mod:`demo.offline`: a small signed history built straight into a store;
- :mod:`demo.story_farm`: weeks of a farm's life, birds hatch to shelf, with
  operators' events (tests and benchmarks build their logs with it);
- :mod:`demo.live`: the live demo: Mosquitto, witnesses, the gateway, the
  site and a simulated farm streaming over MQTT.

It may import every package of ours; none of them imports it.
"""
