"""Group commit (gateway.web.group_commit): requests that arrive together share one batch, each gets its own
answer, and one item's failure is its own."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from gateway.web.group_commit import GroupCommit


class Recorder:
    """A batch function that records each batch and answers ``item["n"] * 10``, or the error an item asks for."""

    def __init__(self, *, fail_batches: int = 0) -> None:
        self.batches: list[list[int]] = []
        self.fail_batches = fail_batches
        self.release = threading.Event()
        self.release.set()

    def __call__(self, batch: list[dict[str, Any]]) -> list[int | Exception]:
        self.release.wait(5)
        self.batches.append([item["n"] for item in batch])
        if self.fail_batches:
            self.fail_batches -= 1
            raise RuntimeError("the database went away")
        return [ValueError(f"refused {item['n']}") if item.get("bad") else item["n"] * 10 for item in batch]


async def store_all(group: GroupCommit[int], items: list[dict[str, Any]]) -> list[int | BaseException]:
    return await asyncio.gather(*(group.store(item) for item in items), return_exceptions=True)


def test_items_arriving_together_share_a_batch_and_each_gets_its_own_result() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder, max_batch=4)

    async def scenario() -> list[int | BaseException]:
        recorder.release.clear()  # the first batch waits in its thread while the others queue up
        first = asyncio.ensure_future(group.store({"n": 0}))
        await asyncio.sleep(0.05)
        rest = asyncio.ensure_future(store_all(group, [{"n": n} for n in range(1, 10)]))
        await asyncio.sleep(0.05)
        recorder.release.set()
        return [await first, *await rest]

    assert asyncio.run(scenario()) == [n * 10 for n in range(10)]
    assert recorder.batches == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9]]


def test_one_refused_item_fails_alone() -> None:
    recorder = Recorder()
    results = asyncio.run(store_all(GroupCommit(recorder), [{"n": 1}, {"n": 2, "bad": True}, {"n": 3}]))
    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], ValueError) and str(results[1]) == "refused 2"


def test_a_failed_batch_fails_its_requests_and_the_next_batch_still_goes() -> None:
    recorder = Recorder(fail_batches=1)
    group = GroupCommit(recorder)

    async def scenario() -> tuple[list[int | BaseException], int]:
        failed = await store_all(group, [{"n": 1}, {"n": 2}])
        return failed, await group.store({"n": 3})

    failed, later = asyncio.run(scenario())
    assert all(isinstance(result, RuntimeError) for result in failed)
    assert later == 30


def test_each_event_loop_has_its_own_queue() -> None:
    group = GroupCommit(Recorder())
    assert asyncio.run(group.store({"n": 4})) == 40
    assert asyncio.run(group.store({"n": 5})) == 50  # a new loop: no future of the old one is awaited


def test_a_request_that_goes_away_does_not_stop_the_others() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder)

    async def scenario() -> int:
        recorder.release.clear()
        leaving = asyncio.ensure_future(group.store({"n": 1}))
        staying = asyncio.ensure_future(group.store({"n": 2}))
        await asyncio.sleep(0.05)
        leaving.cancel()
        recorder.release.set()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        return await staying

    assert asyncio.run(scenario()) == 20
    assert sorted(n for batch in recorder.batches for n in batch) == [1, 2]  # the one that left is stored too
