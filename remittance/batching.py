"""Group commit: concurrent callers in one process share one call of a batch function.

A caller queues its item and waits. When no batch is running, one waiting caller becomes the
leader: it takes everything queued (up to `max_batch`), runs the batch function on its own
thread (and database connection), hands every caller its result and wakes them; a caller whose
item was not in that batch competes to lead the next. With `parallel` > 1 that many batches may
run at once (one waits on the database while the next is checked), each taking what is queued
when it starts. Nothing waits on a timer: a lone caller
runs a batch of one at once, and under load the batch is whatever arrived while the previous
one ran — so the batch size follows the load (the per-item cost of a batch falls as it grows).

If the batch function raises (a deadlock, a lost connection: not a refusal, which it returns
as a result), every caller of that batch runs its own item alone, so one bad item or a
transient failure costs the others a retry, never a wrong answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_ALONE = object()
REPORT_EVERY = 1000  # items between two INFO lines of batch statistics
logger = logging.getLogger(__name__)


class _Slot(Generic[T]):
    __slots__ = ("done", "item", "result", "taken")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.taken = False  # in a batch that is running
        self.result: object = None


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        batch: Callable[[Sequence[T]], list[R]],
        *,
        max_batch: int = 64,
        parallel: int = 1,
    ) -> None:
        self._batch = batch
        self._max = max_batch
        self._parallel = parallel  # batches that may run at once (each on its own connection)
        self._cv = threading.Condition()
        self._queue: list[_Slot[T]] = []
        self._running = 0
        self.batches = 0  # counters, for the benchmark and the curious
        self.items = 0
        self.busy_seconds = 0.0  # summed wall time of batches
        self._reported = 0

    def submit(self, item: T) -> R:
        slot: _Slot[T] = _Slot(item)
        with self._cv:
            self._queue.append(slot)
        while True:
            with self._cv:
                while not slot.done and (slot.taken or self._running >= self._parallel):
                    self._cv.wait()
                if slot.done:
                    break
                self._running += 1
                batch, self._queue = self._queue[: self._max], self._queue[self._max :]
                for taken in batch:
                    taken.taken = True
            results: list[object] = [_ALONE] * len(batch)
            started = time.perf_counter()
            try:
                answered: list[object] = list(self._batch([s.item for s in batch]))
                if len(answered) == len(batch):
                    results = answered
            except Exception:
                # each caller runs its own item alone (below) and gets its own answer
                logger.warning("a batch of %d failed; each runs alone", len(batch), exc_info=True)
            finally:
                # also on BaseException (a worker's timeout, SystemExit): never leave the
                # others waiting for a leader that is gone
                with self._cv:
                    for s, result in zip(batch, results, strict=True):
                        s.result, s.done = result, True
                    self.batches += 1
                    self.items += len(batch)
                    self.busy_seconds += time.perf_counter() - started
                    self._running -= 1
                    self._cv.notify_all()
                    report = self.items - self._reported >= REPORT_EVERY
                    if report:
                        self._reported = self.items
                if report:
                    logger.info(
                        "group commit %s: %d items in %d batches (mean %.1f), mean batch %.1f ms",
                        getattr(self._batch, "__name__", "batch"),
                        self.items,
                        self.batches,
                        self.items / self.batches,
                        1000 * self.busy_seconds / self.batches,
                    )
        if slot.result is _ALONE:
            return self._batch([item])[0]  # its exception, if any, is this caller's
        return slot.result  # type: ignore[return-value]
