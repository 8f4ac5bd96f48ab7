// An entry proof bundle (GET /api/v1/entries/<i>/proof, chain/proof_bundle.py):
// decoding it, and checking that the entry is in its block and the block in
// the log tree of a checkpoint.
//
//   {"index", "entry": "<jws>", "block": {"height", "hash", "header_b64"},
//    "entry_path": {"leaf_index", "count", "hashes"},
//    "block_path": {"leaf_index", "tree_size", "hashes"}, "checkpoint": "<signed note>"}

import { VerifyError, b64decode, fromHex, fromUtf8, hex, sha256, utf8 } from "./bytes.js";
import { leafHash, verifyInclusion } from "./merkle.js";

function uint(value, what) {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new VerifyError(`proof ${what}: expected a non-negative integer, found ${value}`);
  }
  return value;
}

function text(value, what) {
  if (typeof value !== "string") throw new VerifyError(`proof ${what}: expected a string`);
  return value;
}

function path(json, sizeName, what) {
  if (!Array.isArray(json?.hashes)) throw new VerifyError(`proof ${what}: expected hashes`);
  return {
    leafIndex: uint(json.leaf_index, `${what} leaf_index`),
    size: uint(json[sizeName], `${what} ${sizeName}`),
    hashes: json.hashes.map((h, i) => b64decode(text(h, `${what} hash`), `${what} hash ${i}`)),
  };
}

/** Decode the JSON proof of entry `index` (throws VerifyError if it is malformed). */
export function decodeProof(json, index) {
  if (json?.index !== index) {
    throw new VerifyError(`proof: expected the proof of entry ${index}, found ${json?.index}`);
  }
  return {
    index,
    entry: text(json.entry, "entry"),
    block: {
      height: uint(json.block?.height, "block height"),
      hash: text(json.block?.hash, "block hash"),
      header: b64decode(text(json.block?.header_b64, "block header"), "block header"),
    },
    entryPath: path(json.entry_path, "count", "entry_path"),
    blockPath: path(json.block_path, "tree_size", "block_path"),
    checkpoint: text(json.checkpoint, "checkpoint"),
  };
}

/** The block header's members (throws if the bytes are not a JSON object). */
export function parseHeader(bytes) {
  let header;
  try {
    header = JSON.parse(fromUtf8(bytes, "block header"));
  } catch (error) {
    throw new VerifyError(`block header: expected JSON (${error.message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new VerifyError("block header: expected a JSON object");
  }
  return header;
}

/** Check that the header bytes hash to the block hash and agree with the proof and the log. */
export async function checkHeader(proof, origin) {
  const calculated = hex(await sha256(proof.block.header));
  if (calculated !== proof.block.hash) {
    throw new VerifyError("the block header does not hash to the block hash", {
      expected: proof.block.hash,
      calculated,
    });
  }
  const header = parseHeader(proof.block.header);
  const { height } = proof.block;
  const expect = (found, wanted, what) => {
    if (found !== wanted) {
      throw new VerifyError(`block header ${what}`, { expected: wanted, calculated: found });
    }
  };
  expect(header.log, origin, "log origin");
  expect(header.height, height, "height");
  expect(proof.blockPath.leafIndex, height, "height (block path leaf index)");
  expect(proof.entryPath.size, header.count, "entry count (entry path size)");
  expect(proof.entryPath.leafIndex, proof.index - header.first_index, "entry position");
  return `block ${height}, hash ${calculated}`;
}

/** Check that the header is leaf `height` of the log tree whose root `checkpoint` holds. */
export async function checkBlockInclusion(proof, checkpoint) {
  if (!checkpoint) throw new VerifyError("no checkpoint root to check against");
  const { leafIndex, size, hashes } = proof.blockPath;
  if (size !== checkpoint.size) {
    throw new VerifyError("block path: tree size is not the checkpoint's", {
      expected: checkpoint.size,
      calculated: size,
    });
  }
  const leaf = await leafHash(proof.block.header);
  await verifyInclusion(leafIndex, size, leaf, hashes, checkpoint.root);
  return `block ${leafIndex} of ${size}, ${hashes.length} hashes to the checkpoint root`;
}

/** Check that the entry is leaf `entryPath.leafIndex` of the header's `entries_root`. */
export async function checkEntryInclusion(proof) {
  const root = fromHex(parseHeader(proof.block.header).entries_root ?? "", "entries_root");
  if (root.length !== 32) throw new VerifyError("block header entries_root: expected 32 bytes");
  const { leafIndex, size, hashes } = proof.entryPath;
  await verifyInclusion(leafIndex, size, await leafHash(utf8(proof.entry)), hashes, root);
  return `entry ${leafIndex} of ${size} in block ${proof.block.height}, ${hashes.length} hashes`;
}

/** All three checks of a proof against a verified checkpoint; throws on the first failure. */
export async function checkIncluded(proof, checkpoint, origin) {
  await checkHeader(proof, origin);
  await checkBlockInclusion(proof, checkpoint);
  await checkEntryInclusion(proof);
}
