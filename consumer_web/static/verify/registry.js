// The registry commitment (chain/registry_commitment.py, docs/registry-commitment.md):
// every checkpoint the log signs carries the line
//
//   farmtrace-registry <signers> <base64 root>
//
// committing to each signer's whole registration history, so that a site
// cannot hide a revocation. A signer's history head is h_0 = 32 zero bytes,
// h_k = SHA-256(h_{k-1} || u64be(log index) || SHA-256(entry JWS)); its leaf is
// u8(len(id)) || id || u64be(count) || head, hashed as an RFC 6962 leaf; the
// leaves, sorted by id, form an RFC 6962 tree whose root the line names.

import { VerifyError, b64decode, concat, sha256, utf8 } from "./bytes.js";
import { leafHash, verifyInclusion } from "./merkle.js";

export const EXTENSION_KEYWORD = "farmtrace-registry";
const INCOMPLETE = "registration history not proven complete";
const LINE = /^farmtrace-registry (0|[1-9][0-9]{0,14}) (\S+)$/;

function u64(value) {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value));
  return bytes;
}

/** {signers, root} from a checkpoint's extension lines; throws unless there is exactly one. */
export function registryCommitment(extensions) {
  const lines = extensions.filter((line) => line.split(" ")[0] === EXTENSION_KEYWORD);
  if (lines.length !== 1) {
    throw new VerifyError(`${INCOMPLETE}: the checkpoint carries no registry commitment`, {
      expected: `one ${EXTENSION_KEYWORD} line`,
      calculated: `${lines.length}`,
    });
  }
  const found = LINE.exec(lines[0]);
  const root = found ? b64decode(found[2], "registry root") : null;
  if (!root || root.length !== 32) {
    throw new VerifyError(`${INCOMPLETE}: malformed registry line`, {
      expected: `${EXTENSION_KEYWORD} <signers> <base64 of 32 bytes>`,
      calculated: lines[0].slice(0, 120),
    });
  }
  return { signers: Number(found[1]), root };
}

/** The history head over [{index, entryHash}], in the order given. */
export async function historyHead(records) {
  let head = new Uint8Array(32);
  for (const { index, entryHash } of records) {
    head = await sha256(concat(head, u64(index), entryHash));
  }
  return head;
}

/** The raw leaf input of `signer` with `count` registry entries and history `head`. */
export function leafInput(signer, count, head) {
  const name = utf8(signer);
  return concat(Uint8Array.of(name.length), name, u64(count), head);
}

function checkProofShape(proof, size) {
  const count = (v) => Number.isSafeInteger(v) && v >= 0;
  const ok =
    proof !== null &&
    typeof proof === "object" &&
    proof.size === size &&
    count(proof.leaf_index) &&
    count(proof.signers) &&
    Array.isArray(proof.path);
  if (!ok) {
    throw new VerifyError(`${INCOMPLETE}: no registry proof for the checkpoint`, {
      expected: `a registry proof at tree size ${size}`,
      calculated: JSON.stringify(proof ?? null).slice(0, 120),
    });
  }
  return proof.path.map((h) => b64decode(h, "registry proof path"));
}

/**
 * Check that `entries` ([{index, jws}], in log order) are every registry
 * entry of `signer` in the log of `checkpoint` ({size, extensions}), by
 * `proof` ({size, leaf_index, signers, path: [base64]}) against the
 * checkpoint's registry line. Throws a VerifyError naming the failure
 * "registration history not proven complete" otherwise.
 */
export async function verifyRegistryHistory(signer, entries, proof, checkpoint) {
  const commitment = registryCommitment(checkpoint.extensions ?? []);
  const path = checkProofShape(proof, checkpoint.size);
  const indexes = entries.map((e) => e.index);
  const misplaced = (index, i) =>
    !Number.isSafeInteger(index) || index < 0 || (i > 0 && index <= indexes[i - 1]);
  if (indexes.some(misplaced)) {
    throw new VerifyError(`${INCOMPLETE}: ${signer}'s registrations are not in log order`, {
      expected: "strictly increasing log indexes",
      calculated: indexes.join(", "),
    });
  }
  if (proof.signers !== commitment.signers) {
    throw new VerifyError(`${INCOMPLETE}: the registry proof is for another tree`, {
      expected: `${commitment.signers} signers`,
      calculated: `${proof.signers}`,
    });
  }
  const records = [];
  for (const { index, jws } of entries) {
    if (typeof jws !== "string") throw new VerifyError(`${INCOMPLETE}: entry ${index} not listed`);
    records.push({ index, entryHash: await sha256(utf8(jws)) });
  }
  const head = await historyHead(records);
  const leaf = await leafHash(leafInput(signer, records.length, head));
  try {
    await verifyInclusion(proof.leaf_index, proof.signers, leaf, path, commitment.root);
  } catch (error) {
    throw new VerifyError(
      `${INCOMPLETE}: the ${records.length} registrations listed for ${signer} are not ` +
        "the ones the log committed to (one is hidden, added or changed)",
      {
        expected: error.expected ?? commitment.root,
        calculated: error.calculated ?? error.message,
      },
    );
  }
}
