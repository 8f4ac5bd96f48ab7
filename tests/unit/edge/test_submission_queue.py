"""gateway.http_submit: the queue HTTP threads and the ingest thread share, and its handler."""

from __future__ import annotations

import select
import threading
from collections.abc import Iterator

import pytest

from chain.entries import event_payload, parse_entry, sign_entry
from chain.errors import StorageError
from chain.keyfile import SignerKey
from gateway.admission import Decision, Verdict
from gateway.http_submit import Answer, Submission, SubmissionHandler, SubmissionQueue
from gateway.metrics import GatewayMetrics


@pytest.fixture
def queue() -> Iterator[SubmissionQueue]:
    q = SubmissionQueue(max_waiting=2, answer_timeout_s=5, known_max=2)
    yield q
    q.close()


def _submit_in_thread(queue: SubmissionQueue, raw: bytes) -> tuple[threading.Thread, list[Answer]]:
    answers: list[Answer] = []
    thread = threading.Thread(target=lambda: answers.append(queue.submit(raw, 1)))
    thread.start()
    return thread, answers


def test_nothing_is_queued_while_no_ingest_loop_runs(queue: SubmissionQueue) -> None:
    answer = queue.submit(b"x", 1)
    assert (answer.status, answer.body["reason"]) == (503, "not_ready")
    assert queue.take() == []


def test_the_ingest_thread_is_woken_and_its_answer_reaches_the_request(
    queue: SubmissionQueue,
) -> None:
    queue.open()
    thread, answers = _submit_in_thread(queue, b"jws")
    readable, _, _ = select.select([queue.fileno()], [], [], 5)
    assert readable
    items: list = []
    while not items:  # the request may not have queued it yet when the pipe is read
        items = queue.take()
    assert [i.raw for i in items] == [b"jws"]
    items[0].settle(Answer(202, {"hash": "h"}))
    thread.join(5)
    assert answers == [Answer(202, {"hash": "h"})]


def test_a_full_queue_answers_overloaded(queue: SubmissionQueue) -> None:
    queue.open()
    waiting = [_submit_in_thread(queue, b"a"), _submit_in_thread(queue, b"b")]
    while len(queue._waiting) < 2:  # both queued (the test peeks: no public count)
        select.select([queue.fileno()], [], [], 0.01)
    answer = queue.submit(b"c", 1)
    assert (answer.status, answer.body["reason"]) == (503, "overloaded")
    for item in queue.take():
        item.settle(Answer(202, {}))
    for thread, _ in waiting:
        thread.join(5)


def test_a_request_not_answered_in_time_is_answered_busy_and_not_offered() -> None:
    queue = SubmissionQueue(answer_timeout_s=0.05)
    try:
        queue.open()
        answer = queue.submit(b"late", 1)
        assert (answer.status, answer.body["reason"]) == (503, "busy")
        assert queue.take() == []  # its sender gave up: it will send it again
    finally:
        queue.close()


def test_stopping_answers_what_still_waits() -> None:
    queue = SubmissionQueue(answer_timeout_s=5)
    queue.open()
    thread, answers = _submit_in_thread(queue, b"x")
    select.select([queue.fileno()], [], [], 5)
    while not queue._waiting:
        select.select([queue.fileno()], [], [], 0.01)
    queue.close()
    thread.join(5)
    assert (answers[0].status, answers[0].body["reason"]) == (503, "stopping")


def test_known_hashes_are_bounded_oldest_first(queue: SubmissionQueue) -> None:
    for n, digest in enumerate(["a", "b", "c"]):
        queue.remember(digest, "op", n)
    assert (queue.known("a"), queue.known("b"), queue.known("c")) == (None, ("op", 1), ("op", 2))


def test_closing_twice_and_waking_a_closed_queue_do_nothing() -> None:
    queue = SubmissionQueue()
    queue.close()
    queue.close()
    queue.wake()
    assert queue.submit(b"x", 1).status == 503


class _FailingIngest:
    """Accepts every entry, then cannot make them durable (the store failed)."""

    def offer(self, raw: bytes, publisher: str | None, now_ms: int) -> Decision:
        return Decision(Verdict.ACCEPTED, entry=parse_entry(raw))

    def flush(self) -> int:
        raise StorageError("disk gone")


def test_a_batch_the_store_could_not_keep_is_answered_503_and_the_failure_raised() -> None:
    queue = SubmissionQueue()
    try:
        key = SignerKey.generate("op1")
        payload = event_payload("hatched", 1, 1_700_000_000_000, ["bird:0001"], breed="Ross")
        item = Submission(sign_entry(payload, key.id, key.seed), 1)
        handler = SubmissionHandler(queue, GatewayMetrics())
        with pytest.raises(StorageError):
            handler.handle(_FailingIngest(), [item])  # type: ignore[arg-type]
        assert item.answer is not None
        assert (item.answer.status, item.answer.body["reason"]) == (503, "storage")
    finally:
        queue.close()
