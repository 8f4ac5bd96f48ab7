// RFC 6962 / RFC 9162 Merkle tree hashes and inclusion proofs.
//
// leaf hash = SHA-256(0x00 || data), node hash = SHA-256(0x01 || left || right).
// An audit path lists, from the leaf up, the sibling of each node on the way
// to the root; a node has no sibling when it is the last of its level and has
// an even index (it then moves up a level unchanged).

import { VerifyError, concat, equal, sha256 } from "./bytes.js";

export function leafHash(data) {
  return sha256(concat(Uint8Array.of(0), data));
}

export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

const half = (n) => Math.floor(n / 2);

/** How many hashes the audit path of leaf `index` in a tree of `size` leaves has. */
export function pathLength(index, size) {
  let count = 0;
  for (let node = index, last = size - 1; last > 0; node = half(node), last = half(last)) {
    if (node % 2 === 1 || node < last) count += 1;
  }
  return count;
}

/** The root that audit path `proof` leads to from leaf `index` (hash `leaf`) of `size` leaves. */
export async function rootFromInclusion(index, size, leaf, proof) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw new VerifyError(`leaf index must satisfy 0 <= index < size = ${size}, found ${index}`);
  }
  const length = pathLength(index, size);
  if (proof.length !== length) {
    throw new VerifyError(
      `audit path of leaf ${index} in a tree of ${size}: expected ${length} hashes, ` +
        `found ${proof.length}`,
    );
  }
  for (const hash of [leaf, ...proof]) {
    if (hash.length !== 32) throw new VerifyError(`expected 32-byte hashes, found ${hash.length}`);
  }
  let hash = leaf;
  let next = 0;
  for (let node = index, last = size - 1; last > 0; node = half(node), last = half(last)) {
    if (node % 2 === 1) hash = await nodeHash(proof[next++], hash);
    else if (node < last) hash = await nodeHash(hash, proof[next++]);
  }
  return hash;
}

/** Check that leaf `index` of the tree of `size` leaves with `root` has leaf hash `leaf`. */
export async function verifyInclusion(index, size, leaf, proof, root) {
  const calculated = await rootFromInclusion(index, size, leaf, proof);
  if (!equal(calculated, root)) {
    throw new VerifyError(
      `the audit path of leaf ${index} does not lead to the root of the tree of ${size}`,
      { expected: root, calculated },
    );
  }
}
