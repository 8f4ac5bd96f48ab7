// RFC 6962 / RFC 9162 Merkle tree hashes, inclusion and consistency proofs.
//
// leaf hash = SHA-256(0x00 || data), node hash = SHA-256(0x01 || left || right).
// An audit path lists, from the leaf up, the sibling of each node on the way
// to the root; a node has no sibling when it is the last of its level and has
// an even index (it then moves up a level unchanged).

import { VerifyError, concat, equal, hex, sha256 } from "./bytes.js";

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

// SHA-256 of the empty string: the root of the tree of no leaves.
const EMPTY_ROOT_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const isSize = (n) => Number.isSafeInteger(n) && n >= 0;

/** For node `index` of a level of `width` nodes: is each sibling on its path on the left? */
function siblingSides(index, width) {
  const sides = [];
  for (let node = index, last = width - 1; last > 0; node = half(node), last = half(last)) {
    if (node % 2 === 1) sides.push(true);
    else if (node < last) sides.push(false);
  }
  return sides;
}

function checkHashes(proof, length, what) {
  if (!Array.isArray(proof) || proof.length !== length) {
    throw new VerifyError(`${what}: expected ${length} hashes, found ${proof?.length}`);
  }
  proof.forEach((hash, i) => {
    if (!(hash instanceof Uint8Array) || hash.length !== 32) {
      throw new VerifyError(`${what}: hash ${i} is not 32 bytes`);
    }
  });
}

/**
 * Check that the tree of `size1` leaves with `root1` is a prefix of the tree of
 * `size2` leaves with `root2` (RFC 9162 section 2.1.4.2), as chain/merkle does:
 * the proof is empty when size1 is 0 (root1 must then be the empty tree's) or
 * size2 (the roots must then be equal). Throws a VerifyError otherwise.
 */
export async function verifyConsistency(size1, size2, proof, root1, root2) {
  for (const [name, root] of [["first root", root1], ["second root", root2]]) {
    if (!(root instanceof Uint8Array) || root.length !== 32) {
      throw new VerifyError(`${name}: expected 32 bytes`);
    }
  }
  if (!isSize(size1) || !isSize(size2) || size1 > size2) {
    throw new VerifyError(`tree sizes must satisfy 0 <= size1 <= size2, found ${size1}, ${size2}`);
  }
  const what = `consistency proof from size ${size1} to size ${size2}`;
  if (size1 === 0 || size1 === size2) {
    checkHashes(proof, 0, what);
    if (size1 === 0 && hex(root1) !== EMPTY_ROOT_HEX) {
      throw new VerifyError("first root is not the empty tree's", {
        expected: EMPTY_ROOT_HEX,
        calculated: root1,
      });
    }
    if (size1 === size2 && !equal(root1, root2)) {
      throw new VerifyError(`two roots for size ${size1}`, { expected: root1, calculated: root2 });
    }
    return;
  }
  // The proof starts from the old tree's rightmost perfect subtree, a node of
  // both trees; it is omitted when that subtree is the whole old tree (root1).
  let level = 0;
  while ((size1 / 2 ** level) % 2 === 0) level += 1;
  const scale = 2 ** level;
  const sides = siblingSides(Math.floor((size1 - 1) / scale), Math.floor((size2 - 1) / scale) + 1);
  const whole = size1 === scale;
  checkHashes(proof, sides.length + (whole ? 0 : 1), what);
  const seed = whole ? root1 : proof[0];
  const path = whole ? proof : proof.slice(1);
  // The old tree is that subtree plus the complete subtrees to its left.
  let calculated1 = seed;
  let calculated2 = seed;
  for (const [i, onLeft] of sides.entries()) {
    if (onLeft) calculated1 = await nodeHash(path[i], calculated1);
    if (onLeft) calculated2 = await nodeHash(path[i], calculated2);
    else calculated2 = await nodeHash(calculated2, path[i]);
  }
  if (!equal(calculated1, root1)) {
    throw new VerifyError(`${what} does not lead to the first root`, {
      expected: root1,
      calculated: calculated1,
    });
  }
  if (!equal(calculated2, root2)) {
    throw new VerifyError(`${what} does not lead to the second root`, {
      expected: root2,
      calculated: calculated2,
    });
  }
}
