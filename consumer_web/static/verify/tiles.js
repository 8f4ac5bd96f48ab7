// Entry proofs from C2SP tlog-tiles files (docs/tiles.md, chain/tiles.py), so
// that the browser reads the log from a static server or CDN, not the farm.
//
//   checkpoint                  the signed checkpoint
//   tile/<L>/<N>[.p/<W>]        hash tiles: up to 256 32-byte node hashes of level 8L
//   tile/entries/<N>[.p/<W>]    the block headers of level-0 tile N (uint16-length-prefixed)
//   block/<N>                   block N's entries, in the same bundle format
//
// tileApi(tilesBase, api) answers `/entries/<i>/proof` with a proof bundle it
// builds from those files (the same JSON as the read API's, checked by
// bundle.js exactly as one fetched from a site would be); every other path
// (the log's description, signers) goes to `api`, and so does the proof of
// an entry the published checkpoint does not cover yet (the publisher runs
// behind the site). Nothing here is trusted: entry.js verifies the bundle
// against the checkpoint's signature, wherever it came from.

import { VerifyError, b64encode, fromUtf8, hex, sha256 } from "./bytes.js";
import { leafHash, nodeHash } from "./merkle.js";

const WIDTH = 256;

/** `index` as a tile path: 3-digit groups, all but the last prefixed with `x`. */
export function encodeIndex(index) {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new VerifyError(`tile index: expected a non-negative integer, found ${index}`);
  }
  const groups = [String(index % 1000).padStart(3, "0")];
  for (let rest = Math.floor(index / 1000); rest > 0; rest = Math.floor(rest / 1000)) {
    groups.unshift(`x${String(rest % 1000).padStart(3, "0")}`);
  }
  return groups.join("/");
}

const suffix = (width) => (width === WIDTH ? "" : `.p/${width}`);

export const tilePath = (level, index, width = WIDTH) =>
  `tile/${level}/${encodeIndex(index)}${suffix(width)}`;
export const entriesPath = (index, width = WIDTH) =>
  `tile/entries/${encodeIndex(index)}${suffix(width)}`;
export const blockPath = (height) => `block/${encodeIndex(height)}`;

/** A VerifyError saying the published checkpoint does not cover something (yet). */
const unpublished = (message) => Object.assign(new VerifyError(message), { unpublished: true });

/** Hashes tile `index` of `level` holds in the tree of `size` leaves. */
export function tileWidth(level, index, size) {
  const nodes = Math.floor(size / 2 ** (8 * level));
  return Math.max(0, Math.min(WIDTH, nodes - index * WIDTH));
}

/** The items of an entry bundle (each prefixed by a big-endian uint16 length). */
export function decodeBundle(bytes, what) {
  const items = [];
  for (let at = 0; at < bytes.length; ) {
    if (at + 2 > bytes.length) throw new VerifyError(`${what}: truncated length prefix`);
    const length = (bytes[at] << 8) | bytes[at + 1];
    if (at + 2 + length > bytes.length) throw new VerifyError(`${what}: truncated item`);
    items.push(bytes.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return items;
}

/** Fetches files under `base`, each once; a missing partial tile is read from its full tile. */
export function tileReader(base, fetchImpl = (...a) => globalThis.fetch(...a)) {
  const cache = new Map();
  const root = base.replace(/\/+$/, "");
  async function fetchBytes(path) {
    const url = `${root}/${path}`;
    let response;
    try {
      response = await fetchImpl(url);
    } catch (error) {
      throw new VerifyError(`${url}: unreachable (${error.message})`);
    }
    if (!response.ok) throw Object.assign(new VerifyError(`${url}: HTTP ${response.status}`), {
      status: response.status,
    });
    return new Uint8Array(await response.arrayBuffer());
  }
  const bytes = (path) => {
    if (!cache.has(path)) cache.set(path, fetchBytes(path));
    return cache.get(path);
  };
  async function partial(path, width, decode) {
    try {
      return decode(await bytes(path), width);
    } catch (error) {
      if (error.status !== 404 || width === WIDTH) throw error;
      return decode(await bytes(path.split(".p/")[0]), WIDTH).slice(0, width);
    }
  }
  const hashes = (data, width) => {
    if (data.length !== 32 * width) {
      throw new VerifyError(`hash tile: expected ${32 * width} bytes, found ${data.length}`);
    }
    return Array.from({ length: width }, (_, i) => data.subarray(32 * i, 32 * i + 32));
  };
  const bundle = (what) => (data, width) => {
    const items = decodeBundle(data, what);
    if (items.length < width) throw new VerifyError(`${what}: expected ${width} items`);
    return items.slice(0, width);
  };
  return {
    async checkpoint() {
      return fromUtf8(await bytes("checkpoint"), "checkpoint");
    },
    tile: (level, index, width) => partial(tilePath(level, index, width), width, hashes),
    headers: (index, width) => partial(entriesPath(index, width), width, bundle("entry bundle")),
    async entries(height) {
      return decodeBundle(await bytes(blockPath(height)), `block ${height}'s entries`);
    },
  };
}

async function foldRight(hashes) {
  let result = hashes[hashes.length - 1];
  for (let i = hashes.length - 2; i >= 0; i -= 1) result = await nodeHash(hashes[i], result);
  return result;
}

async function perfectRoot(hashes) {
  let level = hashes;
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) next.push(await nodeHash(level[i], level[i + 1]));
    level = next;
  }
  return level[0];
}

/**
 * Node (level, index) of the tree of `size` leaves, from hash tiles (see
 * chain/tiles.py), read as published at `published` >= `size` leaves (a
 * tile's first hashes never change as it grows).
 */
function nodeGetter(reader, size, published) {
  return async (level, index) => {
    const tileLevel = Math.floor(level / 8);
    const span = 2 ** (level % 8);
    const first = index * span;
    const tileIndex = Math.floor(first / WIDTH);
    const offset = first % WIDTH;
    if (offset + span > tileWidth(tileLevel, tileIndex, size)) {
      throw new VerifyError(`no node (${level}, ${index}) in the tree of ${size}`);
    }
    const width = tileWidth(tileLevel, tileIndex, published);
    const hashes = await reader.tile(tileLevel, tileIndex, width);
    return perfectRoot(hashes.slice(offset, offset + span));
  };
}

/** MTH of leaves [begin, end) from perfect nodes (chain/merkle range_hash). */
async function rangeHash(get, begin, end) {
  const nodes = [];
  for (let at = begin; at < end; ) {
    // The largest power of two that fits in what is left and that `at` is aligned to.
    let level = 0;
    while (2 ** (level + 1) <= end - at && at % 2 ** (level + 1) === 0) level += 1;
    nodes.push(await get(level, at / 2 ** level));
    at += 2 ** level;
  }
  return foldRight(nodes);
}

/** The audit path of leaf `index` in the tree of `size` leaves, from `get(level, index)`. */
export async function inclusionPath(get, index, size) {
  const path = [];
  for (let level = 0, node = index; Math.floor((size - 1) / 2 ** level) > 0; level += 1) {
    const last = Math.floor((size - 1) / 2 ** level);
    const sibling = node % 2 === 0 ? node + 1 : node - 1;
    if (sibling <= last) {
      const begin = sibling * 2 ** level;
      path.push(await rangeHash(get, begin, Math.min(begin + 2 ** level, size)));
    }
    node = Math.floor(node / 2);
  }
  return path;
}

/** A node getter over a list of leaf hashes, for the entries of one block. */
function listGetter(leaves) {
  return (level, index) => perfectRoot(leaves.slice(index * 2 ** level, (index + 1) * 2 ** level));
}

async function blockOf(reader, index, size) {
  const header = async (height) => {
    const tile = Math.floor(height / WIDTH);
    const raw = (await reader.headers(tile, tileWidth(0, tile, size)))[height % WIDTH];
    return { raw, json: JSON.parse(fromUtf8(raw, `block ${height} header`)) };
  };
  let [lo, hi] = [0, size - 1];
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if ((await header(mid)).json.first_index <= index) lo = mid;
    else hi = mid - 1;
  }
  const found = await header(lo);
  const end = found.json.first_index + found.json.count;
  if (lo === size - 1 && index >= end) {
    throw unpublished(`entry ${index} is not in the published log of ${size} blocks`);
  }
  if (!(index >= found.json.first_index && index < end)) {
    throw new VerifyError(`entry ${index} is in no block of the published log`);
  }
  return { height: lo, ...found };
}

/**
 * The read API's proof bundle of entry `index` (JSON), built from tiles, at
 * `treeSize` blocks (default: the published checkpoint's size).
 */
export async function entryProof(reader, index, treeSize = undefined) {
  const checkpoint = await reader.checkpoint();
  const published = Number(checkpoint.split("\n")[1]);
  if (!Number.isSafeInteger(published) || published < 1) {
    throw new VerifyError("checkpoint: no tree size");
  }
  const size = treeSize ?? published;
  if (size > published) {
    throw unpublished(`tree size ${size}: the published checkpoint has ${published} blocks`);
  }
  if (!(Number.isSafeInteger(size) && size >= 1)) throw new VerifyError(`tree size ${size}`);
  const block = await blockOf(reader, index, published);
  if (block.height >= size) throw new VerifyError(`entry ${index} is not in the tree of ${size}`);
  const entries = await reader.entries(block.height);
  const position = index - block.json.first_index;
  const leaves = await Promise.all(entries.map((entry) => leafHash(entry)));
  const entryPath = await inclusionPath(listGetter(leaves), position, entries.length);
  const blockPath = await inclusionPath(nodeGetter(reader, size, published), block.height, size);
  return {
    index,
    entry: fromUtf8(entries[position] ?? new Uint8Array(), "entry"),
    block: {
      height: block.height,
      hash: hex(await sha256(block.raw)),
      header_b64: b64encode(block.raw),
    },
    entry_path: { leaf_index: position, count: entries.length, hashes: entryPath.map(b64encode) },
    block_path: { leaf_index: block.height, tree_size: size, hashes: blockPath.map(b64encode) },
    checkpoint,
  };
}

/**
 * A read API client (entry.js readApi's interface) whose entry proofs come
 * from tiles; those the tiles do not cover yet come from `api`.
 */
export function tileApi(tilesBase, api, fetchImpl) {
  const reader = tileReader(tilesBase, fetchImpl);
  const proofs = new Map();
  return {
    get(path, options) {
      const found = /^\/entries\/(\d+)\/proof(?:\?tree_size=(\d+))?$/.exec(path);
      if (!found) return api.get(path, options);
      const size = found[2] === undefined ? undefined : Number(found[2]);
      if (!proofs.has(path)) {
        const built = entryProof(reader, Number(found[1]), size).catch((error) => {
          if (!error.unpublished) throw error;
          return api.get(path, options);
        });
        proofs.set(path, built);
      }
      return proofs.get(path);
    },
  };
}
