"""Add, replace and retire devices and people on a live farm.

One step each for what used to take several: broker logins (created and
deleted on the running broker, :mod:`gateway.broker_accounts`), signed
registrations and revocations confirmed by the gateway's receipt
(:mod:`signer.device_lifecycle`, :mod:`signer.registration`), and desk
log-ins (:mod:`desk.people`). ``farmtrace device add|replace|retire`` and
``farmtrace operator add|retire`` are the command line over
:mod:`provisioning.devices` and :mod:`provisioning.people`.
"""
