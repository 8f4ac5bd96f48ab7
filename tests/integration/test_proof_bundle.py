"""Entry proofs (chain.proof_bundle) built from a real LevelDB log, verified and tampered with."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from farm_logs import LogFactory
from merkle_reference import ref_inclusion, ref_root

from chain import note
from chain.checkpoint import Checkpoint, sign_checkpoint
from chain.errors import (
    MalformedBlockError,
    MalformedError,
    MalformedNoteError,
    ProofError,
    SignatureError,
    UnknownSignerError,
    VerificationError,
)
from chain.proof_bundle import AuditPath, EntryProof, build_entry_proof, verify_entry_proof
from chain.store import Store
from gateway.init import read_log_signer

BLOCK_SIZES = [3, 1, 5, 2, 7, 4]  # after genesis and two device registrations


@dataclasses.dataclass
class SmallLog:
    store: Store
    vkey: str
    signer: str
    origin: str


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallLog]:
    """Nine blocks of 1 to 7 entries, with a signed checkpoint at every size."""
    factory = LogFactory(tmp_path_factory.mktemp("proofs") / "log")
    factory.register("d1")
    factory.register("d2")
    for n, count in enumerate(BLOCK_SIZES):
        factory.commit([factory.reading("d1" if (n + i) % 2 else "d2") for i in range(count)])
    yield SmallLog(
        factory.store,
        factory.trust.log_key,
        read_log_signer(factory.data_dir),
        factory.store.origin,
    )
    factory.close()


def _entries_of(store: Store, size: int) -> range:
    return range(store.block(size - 1).next_index)


def test_every_entry_verifies_at_every_checkpoint_and_matches_the_reference(
    small_log: SmallLog,
) -> None:
    store = small_log.store
    headers = [store.block_raw(h) for h in range(store.size)]
    assert store.checkpoint_sizes() == list(range(1, store.size + 1))
    checked = 0
    for size in store.checkpoint_sizes():
        for index in _entries_of(store, size):
            proof = build_entry_proof(store, index, size)
            checkpoint = verify_entry_proof(proof, small_log.vkey, origin=small_log.origin)
            assert checkpoint.size == size
            assert checkpoint.root_hash == ref_root(headers[:size])
            height = proof.block_height
            block_entries = store.block_entries(height)
            offset = index - store.block(height).first_index
            assert proof.entry == store.entry(index) == block_entries[offset]
            assert proof.header == headers[height]
            assert list(proof.entry_path.hashes) == ref_inclusion(block_entries, offset)
            assert list(proof.block_path.hashes) == ref_inclusion(headers[:size], height)
            assert EntryProof.from_json(proof.to_json()) == proof
            checked += 1
    assert checked == sum(len(_entries_of(store, s)) for s in store.checkpoint_sizes())


def test_default_is_the_latest_checkpoint(small_log: SmallLog) -> None:
    store = small_log.store
    proof = build_entry_proof(store, 0)
    assert proof.block_path.tree_size == store.size
    assert proof.checkpoint == store.checkpoint(store.size)


def test_builder_refuses_what_no_checkpoint_covers(small_log: SmallLog) -> None:
    store = small_log.store
    last = store.entry_count - 1
    with pytest.raises(KeyError, match="not yet covered"):
        build_entry_proof(store, last, store.size - 1)
    with pytest.raises(KeyError, match="no entry"):
        build_entry_proof(store, store.entry_count)
    with pytest.raises(KeyError, match="no entry"):
        build_entry_proof(store, -1)
    with pytest.raises(KeyError, match="no checkpoint"):
        build_entry_proof(store, 0, store.size + 1)


def test_builder_on_a_log_without_checkpoint(tmp_path: Path) -> None:
    with (
        Store.open(tmp_path / "empty", origin="test.example/empty") as store,
        pytest.raises(KeyError, match="no checkpoint"),
    ):
        build_entry_proof(store, 0)


# -- tampering -----------------------------------------------------------------


@pytest.fixture(scope="module")
def proof(small_log: SmallLog) -> EntryProof:
    """Entry 1 of block 5 (5 entries) in the tree of 7 blocks: both paths non-trivial."""
    store = small_log.store
    index = store.block(5).first_index + 1
    built = build_entry_proof(store, index, 7)
    assert len(built.entry_path.hashes) == 3 and len(built.block_path.hashes) == 3
    return built


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 1]) + data[position + 1 :]


def _replace_hash(path: AuditPath, position: int) -> AuditPath:
    hashes = list(path.hashes)
    hashes[position] = _flip(hashes[position], 0)
    return dataclasses.replace(path, hashes=tuple(hashes))


def test_the_untouched_proof_verifies(proof: EntryProof, small_log: SmallLog) -> None:
    assert verify_entry_proof(proof, small_log.vkey).size == 7


def test_every_entry_byte_matters(proof: EntryProof, small_log: SmallLog) -> None:
    for position in range(len(proof.entry)):
        forged = dataclasses.replace(proof, entry=_flip(proof.entry, position))
        with pytest.raises(ProofError) as info:
            verify_entry_proof(forged, small_log.vkey)
        assert info.value.expected is not None and info.value.calculated is not None


def test_every_header_byte_matters(proof: EntryProof, small_log: SmallLog) -> None:
    for position in range(len(proof.header)):
        forged = dataclasses.replace(proof, header=_flip(proof.header, position))
        with pytest.raises(ProofError, match="does not hash to the block hash"):
            verify_entry_proof(forged, small_log.vkey)


def _with_path(proof: EntryProof, name: str, path: AuditPath) -> EntryProof:
    if name == "entry_path":
        return dataclasses.replace(proof, entry_path=path)
    return dataclasses.replace(proof, block_path=path)


def test_every_hash_of_both_paths_matters(proof: EntryProof, small_log: SmallLog) -> None:
    for name in ("entry_path", "block_path"):
        path: AuditPath = getattr(proof, name)
        for position in range(len(path.hashes)):
            forged = _with_path(proof, name, _replace_hash(path, position))
            with pytest.raises(ProofError, match="does not lead to the root"):
                verify_entry_proof(forged, small_log.vkey)
        for hashes in (path.hashes[:-1], (*path.hashes, path.hashes[0]), ()):
            forged = _with_path(proof, name, dataclasses.replace(path, hashes=hashes))
            with pytest.raises(ProofError, match="must have 3 hashes"):
                verify_entry_proof(forged, small_log.vkey)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"index": +1}, "expected leaf 2 of 5, found leaf 1 of 5"),
        ({"index": -2}, "block 5 holds entries"),
        ({"entry_path.leaf_index": +1}, "found leaf 2 of 5"),
        ({"entry_path.tree_size": +1}, "found leaf 1 of 6"),
        ({"block_height": +1}, "block height: header says 5, proof says 6"),
        ({"block_path.leaf_index": -1}, "block path leaf index 4"),
        ({"block_path.tree_size": +1}, "expected tree size 7"),
        ({"block_path.tree_size": -1}, "expected tree size 7"),
    ],
)
def test_every_index_and_size_matters(
    proof: EntryProof, small_log: SmallLog, change: dict[str, int], message: str
) -> None:
    ((field, delta),) = change.items()
    if "." in field:
        path_name, member = field.split(".")
        path = getattr(proof, path_name)
        new_path = dataclasses.replace(path, **{member: getattr(path, member) + delta})
        forged = dataclasses.replace(proof, **{path_name: new_path})
    else:
        forged = dataclasses.replace(proof, **{field: getattr(proof, field) + delta})
    with pytest.raises(ProofError, match=message):
        verify_entry_proof(forged, small_log.vkey)


def test_another_entry_of_the_same_block_does_not_pass(
    proof: EntryProof, small_log: SmallLog
) -> None:
    other = small_log.store.entry(proof.index + 1)
    with pytest.raises(ProofError, match="does not lead to the root"):
        verify_entry_proof(dataclasses.replace(proof, entry=other), small_log.vkey)


def test_block_hash_must_name_the_header(proof: EntryProof, small_log: SmallLog) -> None:
    for bad in ("0" * 64, proof.block_hash.upper(), "xyz", ""):
        with pytest.raises(ProofError, match="block hash"):
            verify_entry_proof(dataclasses.replace(proof, block_hash=bad), small_log.vkey)


def test_a_header_of_the_right_hash_must_still_be_a_header(
    proof: EntryProof, small_log: SmallLog
) -> None:
    pretty = json.dumps(json.loads(proof.header), indent=1).encode()
    forged = dataclasses.replace(
        proof, header=pretty, block_hash=hashlib.sha256(pretty).hexdigest()
    )
    with pytest.raises(MalformedBlockError, match="canonical"):
        verify_entry_proof(forged, small_log.vkey)


def test_another_block_of_the_log_does_not_pass(proof: EntryProof, small_log: SmallLog) -> None:
    """A real header with its real hash, in the place of the entry's block."""
    other = build_entry_proof(small_log.store, small_log.store.block(4).first_index, 7)
    forged = dataclasses.replace(
        proof,
        header=other.header,
        block_hash=other.block_hash,
        block_height=4,
        block_path=dataclasses.replace(proof.block_path, leaf_index=4),
    )
    with pytest.raises(ProofError, match="block 4 holds entries"):
        verify_entry_proof(forged, small_log.vkey)


def test_every_checkpoint_character_matters(proof: EntryProof, small_log: SmallLog) -> None:
    text = proof.checkpoint
    for position in range(len(text)):
        forged_text = text[:position] + chr(ord(text[position]) ^ 1) + text[position + 1 :]
        forged = dataclasses.replace(proof, checkpoint=forged_text)
        with pytest.raises((VerificationError, MalformedError)):
            verify_entry_proof(forged, small_log.vkey)


def test_checkpoint_signature_and_key(proof: EntryProof, small_log: SmallLog) -> None:
    text, signature = proof.checkpoint.split("\n\n")
    raw = note.parse(proof.checkpoint).signatures[0]
    bad_sig = note.NoteSignature(raw.name, raw.key_id, _flip(raw.signature, 10)).to_line()
    with pytest.raises(SignatureError):
        verify_entry_proof(
            dataclasses.replace(proof, checkpoint=f"{text}\n\n{bad_sig}"), small_log.vkey
        )
    # The same tree head with a bigger size claimed, under the old signature.
    lines = text.split("\n")
    lines[1] = "8"
    with pytest.raises(SignatureError):
        verify_entry_proof(
            dataclasses.replace(proof, checkpoint="\n".join(lines) + "\n\n" + signature),
            small_log.vkey,
        )
    with pytest.raises(MalformedNoteError):
        verify_entry_proof(dataclasses.replace(proof, checkpoint=text + "\n"), small_log.vkey)


def test_wrong_log_key_and_wrong_origin(proof: EntryProof, small_log: SmallLog) -> None:
    _, other_vkey = note.generate_key(small_log.origin)
    with pytest.raises(UnknownSignerError, match="found none"):
        verify_entry_proof(proof, other_vkey)
    _, foreign_vkey = note.generate_key("other.example/log")
    with pytest.raises(UnknownSignerError, match="origin"):
        verify_entry_proof(proof, foreign_vkey)
    with pytest.raises(UnknownSignerError, match=r"other\.example/log") as info:
        verify_entry_proof(proof, small_log.vkey, origin="other.example/log")
    assert info.value.reason == "wrong_origin"


def test_a_checkpoint_signed_by_the_log_over_a_forged_root_fails_the_path(
    proof: EntryProof, small_log: SmallLog
) -> None:
    """Even the log's own key cannot make a header appear in a tree that lacks it."""
    honest = Checkpoint.from_text(note.parse(proof.checkpoint).text)
    forged_root = dataclasses.replace(honest, root_hash=_flip(honest.root_hash, 31))
    forged = dataclasses.replace(proof, checkpoint=sign_checkpoint(forged_root, small_log.signer))
    with pytest.raises(ProofError) as info:
        verify_entry_proof(forged, small_log.vkey)
    assert info.value.expected == forged_root.root_hash
    assert info.value.calculated == honest.root_hash


# -- the JSON form ---------------------------------------------------------------


def test_json_shape(proof: EntryProof) -> None:
    obj = json.loads(proof.to_json())
    assert set(obj) == {"index", "entry", "block", "entry_path", "block_path", "checkpoint"}
    assert obj["index"] == proof.index
    assert obj["entry"] == proof.entry.decode()
    assert obj["block"]["height"] == 5 and obj["block"]["hash"] == proof.block_hash
    assert obj["entry_path"]["leaf_index"] == 1 and obj["entry_path"]["count"] == 5
    assert obj["block_path"] == {
        "leaf_index": 5,
        "tree_size": 7,
        "hashes": obj["block_path"]["hashes"],
    }
    assert all(len(h) == 44 and h.endswith("=") for h in obj["block_path"]["hashes"])


def _mutated(proof: EntryProof, path: list[str], value: object) -> str:
    obj = json.loads(proof.to_json())
    target = obj
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(obj)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["index"], KeyError),
        (["index"], "3"),
        (["index"], True),
        (["index"], -1),
        (["index"], 1.0),
        (["entry"], 5),
        (["entry"], "é"),
        (["block"], []),
        (["block", "height"], None),
        (["block", "hash"], 0),
        (["block", "header_b64"], "not base64!"),
        (["block", "header_b64"], "YQ"),  # unpadded
        (["block", "header_b64"], "YR=="),  # unused bits set
        (["entry_path", "count"], KeyError),
        (["entry_path", "hashes"], "AAAA"),
        (["entry_path", "hashes"], [1]),
        (["block_path", "tree_size"], -3),
        (["block_path", "hashes"], ["-_-_"]),
        (["checkpoint"], KeyError),
        (["checkpoint"], ["x"]),
    ],
)
def test_malformed_json_is_rejected(proof: EntryProof, path: list[str], value: object) -> None:
    with pytest.raises(MalformedError) as info:
        EntryProof.from_json(_mutated(proof, path, value))
    assert info.value.reason == "malformed_proof"


@pytest.mark.parametrize("text", ["", "[]", "null", "{", b"\xff", '"proof"'])
def test_non_objects_are_rejected(text: str | bytes) -> None:
    with pytest.raises(MalformedError):
        EntryProof.from_json(text)


def test_wrong_types_are_rejected_on_construction(proof: EntryProof) -> None:
    with pytest.raises(MalformedError):
        dataclasses.replace(proof, entry="text")  # type: ignore[arg-type]
    with pytest.raises(MalformedError):
        dataclasses.replace(proof, entry=b"\xff")
    with pytest.raises(MalformedError):
        AuditPath(0, 1, ["x"])  # type: ignore[arg-type]
