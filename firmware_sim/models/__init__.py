"""Pure simulation models of a broiler barn's sensors.

Each module holds a frozen config dataclass and a small class whose
``step(ts_ms, rng)`` advances to a time (integer ms since the Unix epoch,
passed in) and returns what the sensor reads, drawing randomness only from
the ``random.Random`` it is given. No I/O, no clock.

* :mod:`~firmware_sim.models.daycycle`: local time, lighting, diurnal swing.
* :mod:`~firmware_sim.models.climate`: barn temperature and humidity.
* :mod:`~firmware_sim.models.feeder`: feeder hopper weight.
* :mod:`~firmware_sim.models.water`: cumulative water meter.
* :mod:`~firmware_sim.models.activity`: per-bird activity counts.
* :mod:`~firmware_sim.models.growth`: per-bird live weight.
"""

from __future__ import annotations

from firmware_sim.models.activity import ActivityConfig, ActivityTag
from firmware_sim.models.climate import BarnClimate, ClimateConfig, ClimateSample
from firmware_sim.models.daycycle import DayCycle
from firmware_sim.models.feeder import Feeder, FeederConfig
from firmware_sim.models.growth import BirdWeight, GrowthConfig
from firmware_sim.models.water import WaterMeter, WaterMeterConfig

__all__ = [
    "ActivityConfig",
    "ActivityTag",
    "BarnClimate",
    "BirdWeight",
    "ClimateConfig",
    "ClimateSample",
    "DayCycle",
    "Feeder",
    "FeederConfig",
    "GrowthConfig",
    "WaterMeter",
    "WaterMeterConfig",
]
