"""The bed store: one event numbering for every writer, and NOTIFY only after commit."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from exchange.beds import registry, store
from exchange.beds.model import BedState, NewEvent, ShelterState
from schema.registry import NewShelter


def shelter(name: str = "A") -> NewShelter:
    return NewShelter(name=name, region="OH", lat=40, lon=-83, beds={"single": 4})


async def test_committing_refuses_to_nest_in_the_callers_transaction(
    conn: asyncpg.Connection[Any],
) -> None:
    """A NOTIFY may never be sent inside a transaction: committing() must own it."""
    async with conn.transaction():
        with pytest.raises(RuntimeError, match="must own its transaction"):
            async with store.committing(conn):
                pass
        with pytest.raises(RuntimeError, match="must own its transaction"):
            await registry.add_shelters(conn, [shelter()])


async def test_notify_is_sent_after_commit_and_not_on_rollback(
    conn: asyncpg.Connection[Any], dsn: str
) -> None:
    """Listeners hear of committed events only, with the last seq as payload."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(dsn)
    await listener.add_listener(store.CHANNEL, lambda *a: heard.put_nowait(a[3]))
    try:
        [(sid, _)] = await registry.add_shelters(conn, [shelter()])
        assert await asyncio.wait_for(heard.get(), 5) == str(await store.head(conn))
        event = NewEvent(
            shelter_id=sid,
            kind="hold",
            beds={"single": BedState(total=4, occupied=0, out_of_service=0, held=1)},
        )
        with pytest.raises(ZeroDivisionError):
            async with store.committing(conn) as outbox:
                await store.append(conn, outbox, [event])
                1 / 0  # noqa: B018
        await asyncio.sleep(0.2)
        assert heard.empty()
    finally:
        await listener.close()


async def test_the_registry_and_the_batched_write_share_one_numbering(
    conn: asyncpg.Connection[Any],
) -> None:
    """Events from add_shelters, append and write_reports form one gapless sequence."""
    added = await registry.add_shelters(conn, [shelter("A"), shelter("B")])
    ids = [i for i, _ in added]
    async with store.committing(conn) as outbox:
        states = await store.lock_states(conn, ids)
        beds = {"single": BedState(total=4, occupied=1, out_of_service=0)}
        report = NewEvent(shelter_id=ids[0], kind="report", beds=beds, report_seq=1)
        states[ids[0]] = ShelterState(shelter_id=ids[0], last_seq=1, beds=beds)
        await store.write_reports(conn, outbox, states, [report])
        await store.append(conn, outbox, [NewEvent(shelter_id=ids[1], kind="hold", beds={})])
    seqs = [e.seq for e in await store.since(conn, 0)]
    assert seqs == [1, 2, 3, 4] == list(range(1, await store.head(conn) + 1))


def test_available_never_goes_below_zero_and_overheld_says_by_how_much() -> None:
    """A report lowering capacity under holds leaves available 0 and counts the excess."""
    assert BedState(total=4, occupied=3, out_of_service=0, held=1).available == 0
    lowered = BedState(total=2, occupied=2, out_of_service=0, held=1)
    assert lowered.available == 0 and lowered.overheld == 1
    assert BedState(total=5, occupied=1, out_of_service=1, held=1).overheld == 0
