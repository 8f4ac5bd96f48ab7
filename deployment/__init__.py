"""Deploying farmtrace on a co-op's machines: nginx with TLS in front, systemd units for every part.

``farmtrace deploy`` (see docs/deploy.md) writes the files; this package
renders them as text from a :class:`~deployment.parts.Machine`:

* :mod:`deployment.nginx`: server blocks (TLS, HTTP/2, gzip/brotli, caching
  of static files, a rate limit on the desk's log-in, unknown hosts refused,
  a tlog-tiles directory served from disk),
  and a stand-alone ``nginx.conf`` for running it unprivileged;
* :mod:`deployment.systemd`: units with restart policies, sandboxing, a user
  and a state directory per part, secrets as credentials;
* :mod:`deployment.parts`: which parts a machine runs and how they connect
  (a farm's log, an operator-only log fed over HTTP, a site following many logs);
* :mod:`deployment.pins`: the pins file and the trust roots and witness
  policies it names, copied where the units can read them.

It imports nothing else of ours: it writes text and copies the pins' files.
"""

from __future__ import annotations

from deployment.nginx import (
    Location,
    NginxPlan,
    SubmitLimit,
    VirtualHost,
    server_blocks,
    standalone_conf,
    tiles_host,
)
from deployment.parts import PARTS, Machine, nginx_plan, units, write_bundle
from deployment.pins import INSTALLED_PINS, bundle_pins
from deployment.systemd import Unit, render_unit

__all__ = [
    "INSTALLED_PINS",
    "PARTS",
    "Location",
    "Machine",
    "NginxPlan",
    "SubmitLimit",
    "Unit",
    "VirtualHost",
    "bundle_pins",
    "nginx_plan",
    "render_unit",
    "server_blocks",
    "standalone_conf",
    "tiles_host",
    "units",
    "write_bundle",
]
