"""What a served state keeps, and when the memory of a replaced state is handed back."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from serving.cache import wait_until_freed


class Node:
    """A weak-referenceable object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def test_a_served_portfolio_keeps_its_columns_not_the_per_row_objects(make_client, keys) -> None:
    client = make_client()
    batch = client.app.state.holder.state.portfolio.batch
    assert batch.rows_dropped
    assert batch.churn.reasons.up == [] and batch.expansion.reasons.main == []
    assert batch.playbooks == []
    assert len(batch.churn.probability) == batch.n > 0  # the columns stay
    with pytest.raises(RuntimeError, match="columns only"):
        batch.record(0)
    # the records were serialised before: lookups and pages still carry drivers and plays
    account = client.get("/v1/accounts/A001", headers=keys.read_headers).json()
    assert account["churn"]["drivers_up"] or account["churn"]["drivers_down"]
    page = client.get("/v1/accounts?limit=5", headers=keys.read_headers).json()
    assert len(page["items"]) == 5 and "top_churn_reason" in page["items"][0]


def test_waiting_for_a_replaced_state_collects_a_cycle_that_holds_it() -> None:
    first, second = Node(), Node()
    first.other, second.other = second, first  # only the garbage collector frees a cycle
    replaced = weakref.ref(first)
    del first, second
    gc.disable()  # the collection must be the wait's own
    try:
        assert replaced() is not None
        assert wait_until_freed(replaced, seconds=1.0)
    finally:
        gc.enable()
    assert replaced() is None


def test_waiting_for_a_replaced_state_waits_for_a_request_still_holding_it() -> None:
    state = Node()
    replaced = weakref.ref(state)
    released = threading.Event()
    proceed = threading.Event()

    def request(held: Node) -> None:  # a request that read the state before the swap
        proceed.wait()
        released.set()
        del held

    thread = threading.Thread(target=request, args=(state,))
    thread.start()
    del state
    proceed.set()
    assert wait_until_freed(replaced, seconds=30.0)
    assert released.is_set()
    thread.join()


def test_waiting_gives_up_on_a_state_that_stays_referenced() -> None:
    state = Node()
    assert not wait_until_freed(weakref.ref(state), seconds=0.2)
    assert state.other is None
