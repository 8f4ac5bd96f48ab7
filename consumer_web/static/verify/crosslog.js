// Cross-log references (docs/supply-chain.md section 3): checking, in the
// browser, that a reference an event carries names an entry another log
// shows. A port of chain/crosslog.py check_reference, giving the same
// verdicts on tests/vectors/crosslog.json.
//
//   ref        one refs item: {log, index, hash, size, root, subject}
//   evidence   {proof: <GET /api/v1/entries/<index>/proof of the other log>,
//               consistency: <GET /api/v1/consistency?first=<size>&second=<N>>
//               or null when the proof's checkpoint has the reference's size}
//   pins       {<origin>: {vkey, witnesses: [<cosignature/v1 vkey>], quorum}}:
//              the other logs as the verifier pinned them, never as the
//              referencing log describes them
//   referrer   the referencing event: {event, subjects, ts}
//
// checkReference resolves to the checked reference or throws a
// CrossLogError whose `reason` is one of FAILURE_REASONS (chain/crosslog.py),
// or "ref_unavailable" when the evidence is not a proof bundle at all (what
// chain/ refuses at the I/O edge, before the check), or
// "malformed_reference" when `ref` breaks the refs format. checkHeadCovers
// (chain.crosslog.check_head_covers) checks the other log's current
// checkpoint before its proof is fetched: verify/stitched.js does both, in
// the order readapi.crosslog.check_at_sources does.

import { VerifyError, b64decode, fromHex, hex, sha256, utf8 } from "./bytes.js";
import { checkIncluded, decodeProof } from "./bundle.js";
import { verifyConsistency } from "./merkle.js";
import { parseCompact } from "./jws.js";
import { checkCosignatures, openCheckpoint } from "./note.js";
import { refProblem } from "./payload.js";
import { REFERABLE } from "./roles.js";

/** The reasons a reference fails, in the order they are checked (chain.crosslog). */
export const FAILURE_REASONS = Object.freeze([
  "ref_unknown_log",
  "ref_bad_checkpoint",
  "ref_not_cosigned",
  "ref_rolled_back",
  "ref_entry_mismatch",
  "ref_not_included",
  "ref_beyond_seen",
  "ref_wrong_kind",
  "ref_wrong_subject",
  "ref_out_of_order",
]);

/** A reference that does not hold: `reason`, and `expected` and `found` in words. */
export class CrossLogError extends VerifyError {
  constructor(ref, problem, { reason, expected, found, cause = undefined }) {
    super(`reference to ${describe(ref)}: ${problem}: expected ${expected}, found ${found}`, {
      expected,
      calculated: found,
    });
    this.name = "CrossLogError";
    this.ref = ref;
    this.reason = reason;
    this.found = found;
    if (cause !== undefined) this.cause = cause;
  }
}

/** `farm-a.example/log entry 17 (bird:0001)`: how messages name a reference. */
export function describe(ref) {
  return `${ref?.log} entry ${ref?.index} (${ref?.subject})`;
}

const messageOf = (error) => (error instanceof Error ? error.message : String(error));

function fail(ref, problem, reason, expected, found, cause = undefined) {
  throw new CrossLogError(ref, problem, { reason, expected, found, cause });
}

function decodeEvidence(ref, evidence) {
  try {
    const index = evidence?.proof?.index;
    if (!Number.isSafeInteger(index) || index < 0) {
      throw new VerifyError("proof: expected an entry index");
    }
    const proof = decodeProof(evidence.proof, index);
    const hashes = evidence?.consistency?.hashes ?? [];
    if (!Array.isArray(hashes)) throw new VerifyError("consistency: expected a list of hashes");
    const consistency = hashes.map((h, i) => b64decode(h, `consistency hash ${i}`));
    return { proof, consistency };
  } catch (error) {
    const found = messageOf(error);
    const problem = "the evidence is malformed";
    return fail(ref, problem, "ref_unavailable", "a proof bundle", found, error);
  }
}

function checkFormat(ref) {
  const problem = refProblem(ref);
  if (problem) {
    const error = new VerifyError(`refs item: expected ${problem}`);
    throw Object.assign(error, { reason: "malformed_reference" });
  }
}

function pinOf(ref, pins) {
  const pin = pins && Object.hasOwn(pins, ref.log) ? pins[ref.log] : null;
  if (pin && typeof pin.vkey === "string" && pin.vkey.split("+")[0] === ref.log) return pin;
  const known = Object.keys(pins ?? {})
    .filter((origin) => String(pins[origin]?.vkey).split("+")[0] === origin)
    .sort();
  const expected = `one of: ${known.join(", ") || "none"}`;
  return fail(ref, "log not pinned", "ref_unknown_log", expected, ref.log);
}

async function signedCheckpoint(ref, signedNote, pin) {
  try {
    return await openCheckpoint(signedNote, pin.vkey);
  } catch (error) {
    const key = pin.vkey.split("+").slice(0, 2).join("+");
    const problem = "checkpoint not signed by the pinned log key";
    const expected = `a checkpoint signed by ${key}`;
    return fail(ref, problem, "ref_bad_checkpoint", expected, messageOf(error), error);
  }
}

function policyText(pin) {
  if (pin.quorum === 0) return "no witnesses required";
  return `${pin.quorum} of ${pin.witnesses.length} witnesses`;
}

async function cosigners(ref, signedNote, pin) {
  const { witnesses, quorum } = pin;
  const counted = Array.isArray(witnesses) && Number.isSafeInteger(quorum);
  if (!counted || quorum < 0 || quorum > witnesses.length) {
    throw new VerifyError(`pin of ${ref.log}: expected witnesses and a quorum of 0..their number`);
  }
  if (witnesses.length === 0) return [];
  let results;
  try {
    results = await checkCosignatures(signedNote, witnesses);
  } catch (error) {
    const found = messageOf(error);
    return fail(ref, "checkpoint not cosigned", "ref_not_cosigned", policyText(pin), found, error);
  }
  const bad = results.filter((r) => r.status === "invalid").map((r) => r.name);
  const found = results
    .filter((r) => r.status === "ok")
    .map((r) => r.name)
    .sort();
  if (bad.length > 0) {
    const wrong = `an invalid cosignature by ${bad.join(", ")}`;
    fail(ref, "checkpoint not cosigned", "ref_not_cosigned", policyText(pin), wrong);
  }
  if (found.length < quorum) {
    const count = `${found.length} (${found.join(", ") || "none"})`;
    fail(ref, "checkpoint not cosigned", "ref_not_cosigned", policyText(pin), count);
  }
  return found;
}

function entryMismatch(ref, index, foundHash, cause = undefined) {
  return new CrossLogError(ref, "the log shows another entry", {
    reason: "ref_entry_mismatch",
    expected: `entry ${ref.index} with hash ${ref.hash}`,
    found: `entry ${index} with hash ${foundHash}`,
    cause,
  });
}

function checkNotSmaller(ref, checkpoint) {
  if (checkpoint.size < ref.size) {
    const problem = "the log shows an older tree than the reference saw";
    const expected = `a checkpoint of size >= ${ref.size}`;
    fail(ref, problem, "ref_rolled_back", expected, `size ${checkpoint.size}`);
  }
}

async function checkNotRolledBack(ref, checkpoint, consistency, mismatch) {
  checkNotSmaller(ref, checkpoint);
  try {
    const { size, root } = checkpoint;
    await verifyConsistency(ref.size, size, consistency, fromHex(ref.root), root);
  } catch (error) {
    // Either the log forked after the reference saw it, or the reference
    // misstates the root. When the entry at the index is another one too, the
    // reference names what the log never showed: the forgery it most likely is.
    if (mismatch) {
      mismatch.cause = error;
      throw mismatch;
    }
    const expected = `size ${checkpoint.size} consistent with root ${ref.root} at size ${ref.size}`;
    const problem = "the log no longer shows the tree the reference saw";
    fail(ref, problem, "ref_rolled_back", expected, messageOf(error), error);
  }
}

/** The subjects an event brings into being (chain.entries.event_outputs). */
export function eventOutputs(payload) {
  if (payload?.type !== "event") return [];
  if (payload.event === "slaughtered") return [...(payload.outputs ?? [])];
  if (payload.event === "packed") {
    const serial = Object.hasOwn(payload, "serial") ? payload.serial : null;
    if (serial !== null) return [`pack:${payload.gtin}.${serial}`];
    return [`lot:${payload.gtin}.${payload.lot}`];
  }
  return [];
}

function referencedEvent(ref, raw, referrer) {
  const allowed = Object.hasOwn(REFERABLE, referrer.event) ? REFERABLE[referrer.event] : [];
  if (allowed.length === 0) {
    const problem = `a ${referrer.event} event may not reference another log`;
    const expected = `one of ${Object.keys(REFERABLE).sort().join(", ")}`;
    fail(ref, problem, "ref_wrong_kind", expected, referrer.event);
  }
  let entry;
  try {
    entry = parseCompact(raw);
  } catch (error) {
    fail(ref, "entry unreadable", "ref_wrong_kind", "an event entry", messageOf(error), error);
  }
  const { payload } = entry;
  const kind = payload.type === "event" ? payload.event : null;
  if (!allowed.includes(kind)) {
    const found = kind === null ? `a ${payload.type} entry` : `a ${kind} event`;
    const problem = `a ${referrer.event} event names an entry of the wrong kind`;
    const expected = `an event of kind ${[...allowed].sort().join(" or ")}`;
    fail(ref, problem, "ref_wrong_kind", expected, found);
  }
  if (!referrer.subjects.includes(ref.subject)) {
    const problem = "the referencing event does not concern the subject";
    const found = referrer.subjects.join(", ") || "no subjects";
    fail(ref, problem, "ref_wrong_subject", `${ref.subject} among its subjects`, found);
  }
  const named = [...payload.subjects, ...eventOutputs(payload)];
  if (!named.includes(ref.subject)) {
    const problem = "the referenced entry does not concern the subject";
    const expected = `${ref.subject} among its subjects or outputs`;
    fail(ref, problem, "ref_wrong_subject", expected, named.join(", ") || "no subjects");
  }
  if (payload.ts > referrer.ts) {
    const problem = "the referenced entry is later than the event that names it";
    fail(ref, problem, "ref_out_of_order", `ts <= ${referrer.ts}`, `ts ${payload.ts}`);
  }
  return { kid: entry.kid, payload, raw };
}

/**
 * Check that `ref` names an entry the other log shows, of a kind `referrer`
 * may name (see the top of this file for the arguments). The checks, in
 * order, each failure a CrossLogError with its reason: the log is pinned
 * [ref_unknown_log]; the evidence's checkpoint is signed by the pinned log
 * key [ref_bad_checkpoint] and cosigned by the pinned quorum
 * [ref_not_cosigned]; it is no smaller than the reference's size and is
 * consistent with its root at that size [ref_rolled_back, or
 * ref_entry_mismatch when the entry at the index is another one too]; the
 * evidence is for the referenced index and entry hash [ref_entry_mismatch];
 * the entry's paths lead to the checkpoint [ref_not_included]; its block is
 * below the reference's size [ref_beyond_seen]; it is an event of a kind
 * REFERABLE allows [ref_wrong_kind]; both events concern ref.subject
 * [ref_wrong_subject]; the referenced entry is no later than the referrer
 * [ref_out_of_order]. Not checked: the referenced entry's own signature
 * and its signer's authority (the other log's verifiers check those).
 *
 * Resolves to {ref, index, entry: {kid, payload, raw}, checkpoint: {origin,
 * size, root, keyId}, cosigners: [witness names, sorted]}.
 */
export async function checkReference(ref, evidence, pins, referrer) {
  checkFormat(ref);
  const pin = pinOf(ref, pins);
  const { proof, consistency } = decodeEvidence(ref, evidence);
  const checkpoint = await signedCheckpoint(ref, proof.checkpoint, pin);
  const found = await cosigners(ref, proof.checkpoint, pin);
  const foundHash = hex(await sha256(utf8(proof.entry)));
  const differs = proof.index !== ref.index || foundHash !== ref.hash;
  const mismatch = differs ? entryMismatch(ref, proof.index, foundHash) : null;
  await checkNotRolledBack(ref, checkpoint, consistency, mismatch);
  if (mismatch) throw mismatch;
  try {
    await checkIncluded(proof, checkpoint, ref.log);
  } catch (error) {
    const expected = `a proof to the root of checkpoint size ${checkpoint.size}`;
    fail(ref, "entry not included", "ref_not_included", expected, messageOf(error), error);
  }
  if (proof.block.height >= ref.size) {
    const problem = "entry beyond the checkpoint the reference saw";
    const found = `block ${proof.block.height}`;
    fail(ref, problem, "ref_beyond_seen", `a block below ${ref.size}`, found);
  }
  const entry = referencedEvent(ref, proof.entry, referrer);
  return { ref, index: ref.index, entry, checkpoint, cosigners: found };
}

/**
 * Check that the other log's current checkpoint `signedNote` (its GET
 * /checkpoint) still covers the reference, before a proof is fetched under it
 * (chain.crosslog.check_head_covers): it must be signed by the pinned log key
 * [ref_bad_checkpoint], no smaller than ref.size [ref_rolled_back: the log's
 * own key says so, cosigned or not] and cosigned by the pinned quorum
 * [ref_not_cosigned]. Resolves to {checkpoint, cosigners}.
 */
export async function checkHeadCovers(ref, signedNote, pins) {
  checkFormat(ref);
  const pin = pinOf(ref, pins);
  const checkpoint = await signedCheckpoint(ref, signedNote, pin);
  checkNotSmaller(ref, checkpoint);
  return { checkpoint, cosigners: await cosigners(ref, signedNote, pin) };
}
