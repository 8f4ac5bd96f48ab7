"""farmtrace consumer_web: the site a shopper reaches by scanning the QR code on a pack.

It keeps a verified replica of the farm's log (:mod:`consumer_web._replica`),
serves the same read API as the gateway, and tells each bird's story from
it: identity, timeline, barn conditions, welfare excursions, completeness and
how to verify all of it. Create it with the factory::

    app = create_app({"SITE_DIR": "/var/lib/farmtrace-site",
                      "SOURCES": ["http://gateway:8080"]})

or, in tests and tools, over any data shaped like :class:`SiteData`::

    app = create_app({"TESTING": True, "SITE_DATA": data})

A site following many logs (each party's own, pinned in one pins file) is
:func:`create_federated_site` (``farmtrace site run --pins``).
"""

from __future__ import annotations

from pathlib import Path

from consumer_web._app import CSP, POLICY_FILE, SiteConfig, create_app
from consumer_web._federated_app import FederatedSite, FederationSettings, create_federated_site
from consumer_web._lifecycle import Head, Lifecycle
from consumer_web._site import SiteData
from consumer_web._story import BirdStory, PackStory

__all__ = [
    "CSP",
    "POLICY_FILE",
    "VERIFIER_ASSETS",
    "BirdStory",
    "FederatedSite",
    "FederationSettings",
    "Head",
    "Lifecycle",
    "PackStory",
    "SiteConfig",
    "SiteData",
    "create_app",
    "create_federated_site",
]

VERIFIER_ASSETS = Path(__file__).resolve().parent / "static" / "verify"
"""The in-browser verifier's ES modules: the site's /static/verify/, a witness's /verify/lib/."""
