"""farmtrace's pure core: entries, blocks, the Merkle log, checkpoints, the store and the audit.

``chain`` imports no other farmtrace package. Everything here except
:mod:`chain.store` and :mod:`chain.audit` is pure: no I/O, and time is passed in.
"""
