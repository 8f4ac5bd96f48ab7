"""The auditors' library: verify a batch, a reading or a whole live log.

- :mod:`verify.batch`: one batch hash or one entry against a live read API,
  down to the signed checkpoint (:func:`verify.batch.verify_batch`);
- :mod:`verify.live_audit`: a whole live log, copied through a verifying
  follower and audited offline, with witness cross-checks and remembered
  state (:func:`verify.live_audit.live_audit`);
- :mod:`verify.witness_check`: compare a log's checkpoint with what each
  witness says it cosigned;
- :mod:`verify.audit_state`: the last verified checkpoint, kept between runs;
- :mod:`verify.crosslog_audit`: every cross-log reference of an audited
  log, checked at the other logs' pinned sources (``farmtrace audit --pins``);
- :mod:`verify.offline`: a log's store (a data directory, or a copy), audited
  without a network (:func:`verify.offline.audit_log_dir`);
- :mod:`verify.inputs`: what an auditor pins and types (the trust root, the
  witness policy, a block hash), read or refused with a typed error.

README.md ("Auditors' Python API") has a runnable example.

Every check raises a typed error from :mod:`chain.errors` or reports a named
finding; nothing returns a silent ``False``. It imports :mod:`chain` and
:mod:`readapi` only.
"""
