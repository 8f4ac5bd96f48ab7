"""farmtrace's edge gateway: verifies entries, batches them into blocks, signs checkpoints.

This issue's part: :mod:`gateway.datadir` (file layout) and :mod:`gateway.init`
(creating a new log). Ingest over MQTT arrives with the ingest issue.
"""
