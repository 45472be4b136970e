"""Closed-loop HTTP load on a live eros: many users sending sync turns at once.

Each of ``clients`` simulated users has its own token, its own chat session and its own HTTP
connection (an ``httpx.AsyncClient``), and sends its next message
(``POST /comp/chat/{id}/message``) as soon as the previous answer arrived, for ``seconds``
after a short warm-up. While it runs, a thread samples ``pg_stat_activity`` for the server's
connections to the database. The report gives turns per second, latency percentiles, status
counts and the peak connection count.

Users and sessions are made through the API (``/comp/personas``, ``/comp/chat/start``) with
tokens minted here, so the server must accept tokens signed with this process's settings
(same ``EROS_DATA_DIR`` development secret, or the same ``SUPABASE_JWT_SECRET``) and use the
database this process is configured for (only for the connection count).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
from django.db import connections

MESSAGES = [
    "Hi! I live in Lisbon and I work as a nurse.",
    "My dog is called Biscuit and he steals socks.",
    "ok",
    "I love bouldering on weekends, it clears my head after long shifts.",
    "What do you do when you can't sleep?",
    "haha that's fair",
    "Do you remember what my dog is called?",
    "Today was long, I skipped lunch again.",
]

#: Seconds between two samples of pg_stat_activity.
SAMPLE_EVERY_S = 0.2


@dataclass
class LoadResult:
    """What a run measured. Latencies in milliseconds, of the turns answered in the measured
    window (after the warm-up); status counts cover the whole run."""

    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)  # whole run, warm-up included
    measured_ok: int = 0
    peak_connections: int = 0
    peak_connections_all: int = 0

    @property
    def turns_per_s(self) -> float:
        return self.measured_ok / self.seconds if self.seconds else 0.0

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not str(status).startswith("2"))

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0–1) of the latencies, nearest rank; 0 when there are none."""
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))]

    def lines(self) -> list[str]:
        statuses = "  ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items(), key=str))
        return [
            f"clients: {self.clients}, measured for {self.seconds:.1f}s",
            f"turns/s: {self.turns_per_s:.1f} ({self.measured_ok} answered turns)",
            f"latency ms: p50 {self.percentile(0.50):.0f}  p95 {self.percentile(0.95):.0f}  "
            f"p99 {self.percentile(0.99):.0f}  max {max(self.latencies_ms, default=0):.0f}",
            f"statuses (warm-up included): {statuses or 'none'}",
            f"peak PostgreSQL connections: {self.peak_connections} to this database, "
            f"{self.peak_connections_all} in all (the sampler's own excluded)",
        ]


class ConnectionSampler(threading.Thread):
    """Samples the number of client connections to the database until :meth:`stop`."""

    def __init__(self, alias: str = "default"):
        super().__init__(name="eros-load-sampler", daemon=True)
        self.alias = alias
        self.peak = 0
        self.peak_all = 0
        self.error: Exception | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        conn = connections[self.alias]
        try:
            while not self._stop_event.is_set():
                with conn.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FILTER (WHERE datname = current_database()), count(*) "
                        "FROM pg_stat_activity "
                        "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
                    )
                    here, everywhere = cursor.fetchone()
                self.peak = max(self.peak, here)
                self.peak_all = max(self.peak_all, everywhere)
                self._stop_event.wait(SAMPLE_EVERY_S)
        except Exception as exc:  # reported by the caller; the load itself goes on
            self.error = exc
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)


async def _prepare_users(client: httpx.AsyncClient, tokens: list[str]) -> list[str]:
    """Start one session per token with the first active persona; returns the session ids."""
    first = tokens[0]
    personas = await client.get("/comp/personas", headers={"Authorization": f"Bearer {first}"})
    personas.raise_for_status()
    active = [p for p in personas.json()["personas"] if p.get("is_active", True)]
    if not active:
        raise RuntimeError("the server has no active persona to talk to")
    genome_id = active[0]["id"]
    gate = asyncio.Semaphore(16)

    async def start(token: str) -> str:
        async with gate:
            response = await client.post(
                "/comp/chat/start",
                json={"genome_id": genome_id},
                headers={"Authorization": f"Bearer {token}"},
            )
        response.raise_for_status()
        return response.json()["session_id"]

    return await asyncio.gather(*(start(t) for t in tokens))


async def run_load(
    base_url: str,
    *,
    clients: int,
    seconds: float,
    warmup: float = 3.0,
    timeout: float = 60.0,
    progress=None,
) -> LoadResult:
    """Drive ``clients`` closed-loop users against ``base_url`` for ``warmup + seconds``.

    Returns the measured :class:`LoadResult` (peak connections are filled in by the caller's
    sampler). Transport failures count as statuses named after the exception.
    """
    from eros.auth import mint_token

    tokens = [mint_token(uuid.uuid4()) for _ in range(clients)]
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as client:
        sessions = await _prepare_users(client, tokens)
    result = LoadResult(clients=clients, seconds=seconds)
    begin = time.monotonic()
    measure_from = begin + warmup
    end = measure_from + seconds

    async def user(index: int) -> None:
        # Each user has its own HTTP connection, as separate people would; one shared client
        # would also spend its CPU picking among a hundred pooled connections per request.
        # Idle connections are dropped before uvicorn's 5 s keep-alive timeout could close
        # one under a request in flight (a transport error that is not the server's).
        limits = httpx.Limits(max_connections=1, keepalive_expiry=2.0)
        headers = {"Authorization": f"Bearer {tokens[index]}"}
        url = f"/comp/chat/{sessions[index]}/message"
        turn = index  # users start at different messages
        async with httpx.AsyncClient(
            base_url=base_url, timeout=timeout, limits=limits, headers=headers
        ) as client:
            while time.monotonic() < end:
                body = {"message": MESSAGES[turn % len(MESSAGES)]}
                turn += 1
                started = time.monotonic()
                try:
                    response = await client.post(url, json=body)
                    status: int | str = response.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                finished = time.monotonic()
                result.statuses[status] += 1
                if measure_from <= finished <= end:
                    result.latencies_ms.append((finished - started) * 1000)
                    if isinstance(status, int) and 200 <= status < 300:
                        result.measured_ok += 1

    async def report() -> None:
        while time.monotonic() < end:
            await asyncio.sleep(5)
            if progress:
                progress(f"  {time.monotonic() - begin:.0f}s: {sum(result.statuses.values())}")

    reporter = asyncio.create_task(report())
    await asyncio.gather(*(user(i) for i in range(clients)))
    reporter.cancel()
    return result


def load(
    base_url: str, *, clients: int, seconds: float, warmup: float = 3.0, progress=None
) -> LoadResult:
    """:func:`run_load` with a :class:`ConnectionSampler` around it (blocking)."""
    sampler = ConnectionSampler()
    sampler.start()
    try:
        result = asyncio.run(
            run_load(base_url, clients=clients, seconds=seconds, warmup=warmup, progress=progress)
        )
    finally:
        sampler.stop()
    if sampler.error is not None:
        raise RuntimeError(f"could not sample pg_stat_activity: {sampler.error}")
    result.peak_connections = sampler.peak
    result.peak_connections_all = sampler.peak_all
    return result
