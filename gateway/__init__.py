"""farmtrace's edge gateway: verifies entries, batches them into blocks, signs checkpoints.

:mod:`gateway.datadir` (file layout), :mod:`gateway.init` and
:mod:`gateway.launch` (a new log; a run's configuration), :mod:`gateway.service`
(the running gateway), :mod:`gateway.broker_setup` (the broker's files and
users), :mod:`gateway.witness_admin` (witnesses.json).
"""
