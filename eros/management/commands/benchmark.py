"""``python manage.py benchmark {turn,stream} [--turns N]``: chat turn latency over HTTP.

``python manage.py benchmark recall [--memories N] [--users U]``: latency of a chat turn's full
memory recall over a synthetic memory table (``memory.benchmark``).

``python manage.py benchmark load [--clients C] [--seconds S] [--url URL]``: closed-loop load
(``eros.benchmark_load``): C users, each with its own token and session, send sync turns as
fast as they are answered; prints turns/s, latency p50/p95/p99, status counts and the peak
number of PostgreSQL connections. With ``--url`` it loads that running server (which must
share this process's JWT secret and database); without, it starts one the way ``up`` does
(migrate, seed personas, one uvicorn process and one django-q2 cluster) on a free local port
with the offline providers, and stops it afterwards. Exits 1 when any request was not 2xx.

Starts a uvicorn web process on a free local port (offline providers, query counting on, no
worker: post-process tasks are only enqueued, as on the reply path). ``turn`` drives N sync
turns through ``/comp/chat/{id}/message`` with httpx and prints p50/p95 latency, SQL queries
per turn and the web process's peak RSS. ``stream`` drives N turns through
``/comp/chat/{id}/message/stream`` and prints the time from sending the request to the first
``meta`` and the first ``delta`` event, and to ``done``; the offline model answers at once, so
the time to the first ``delta`` is eros's own overhead (target: p50 ≤ 50 ms). Ghosted turns
have no ``delta`` and are counted apart. The database is the configured one; the benchmark
user and its session are created fresh each run.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import uuid

import httpx
import psutil
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from eros.management.commands.up import wait_healthy

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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


class Command(BaseCommand):
    help = (
        "Benchmark chat turns over HTTP (turn: sync, stream: streamed), concurrent load on a "
        "live server (load) or per-turn memory recall (recall)."
    )

    def add_arguments(self, parser):
        parser.add_argument("what", choices=["turn", "stream", "recall", "load"])
        parser.add_argument("--turns", type=int, default=200)
        parser.add_argument("--warmup", type=int, default=None)
        load = parser.add_argument_group("load")
        load.add_argument("--clients", type=int, default=50, help="concurrent users")
        load.add_argument("--seconds", type=float, default=30.0, help="measured duration")
        load.add_argument("--warmup-s", type=float, default=3.0, help="unmeasured ramp-up")
        load.add_argument("--url", default="", help="a running server (default: start one)")
        recall = parser.add_argument_group("recall")
        recall.add_argument("--memories", type=int, default=100_000)
        recall.add_argument("--users", type=int, default=1_000)
        recall.add_argument("--queries", type=int, default=2_000)
        recall.add_argument("--database", default="eros_bench", help="database for the data")
        recall.add_argument("--fresh", action="store_true", help="rebuild the data set")
        recall.add_argument("--drop", action="store_true", help="drop the database afterwards")
        recall.add_argument("--no-hnsw", action="store_true", help="skip the HNSW index build")

    def handle(self, *args, what, turns, warmup, **options):
        if what == "recall":
            return self._recall(warmup=200 if warmup is None else warmup, **options)
        if what == "load":
            return self._load(**options)
        warmup = 10 if warmup is None else warmup
        from companions.services.sessions import session_start
        from eros.auth import mint_token
        from personas.selectors import persona_list_active

        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_personas", verbosity=0, stdout=open(os.devnull, "w"))
        genome = persona_list_active().first()
        if genome is None:
            raise CommandError("no personas to talk to")
        user = uuid.uuid4()
        session = session_start(user_id=user, genome_id=genome.id).session
        token = mint_token(user)

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {
            **os.environ,
            "EROS_COUNT_QUERIES": "true",
            "CHAT_PROVIDER": "offline",
            "EMBEDDINGS_PROVIDER": "local",
        }
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "eros.asgi:application",
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=settings.BASE_DIR,
            env=env,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base, web)
            proc = psutil.Process(web.pid)
            peak_rss = 0
            latencies: list[float] = []
            queries: list[int] = []
            headers = {"Authorization": f"Bearer {token}"}
            if what == "stream":
                with httpx.Client(headers=headers, timeout=30) as client:
                    url = f"{base}/comp/chat/{session.id}/message/stream"
                    report = self._stream(client, url, warmup, turns, proc)
                for line in report:
                    self.stdout.write(line)
                return
            url = f"{base}/comp/chat/{session.id}/message"
            with httpx.Client(headers=headers, timeout=30) as client:
                for i in range(warmup + turns):
                    body = {"message": MESSAGES[i % len(MESSAGES)]}
                    started = time.perf_counter()
                    response = client.post(url, json=body)
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code != 200:
                        raise CommandError(f"turn {i}: {response.status_code} {response.text}")
                    peak_rss = max(peak_rss, proc.memory_info().rss)
                    if i >= warmup:
                        latencies.append(elapsed)
                        queries.append(int(response.headers["X-Eros-Queries"]))
                    if (i + 1) % 50 == 0:
                        self.stderr.write(f"  {i + 1}/{warmup + turns} turns")
        finally:
            web.terminate()
            web.wait(10)
        self.stdout.write(f"turns: {turns} (after {warmup} warm-up), offline providers")
        self.stdout.write(
            f"latency ms: p50 {statistics.median(latencies):.1f}  "
            f"p95 {_percentile(latencies, 0.95):.1f}  max {max(latencies):.1f}"
        )
        self.stdout.write(
            f"SQL queries per turn: median {statistics.median(queries):.0f}  max {max(queries)}"
        )
        self.stdout.write(f"web process peak RSS: {peak_rss / 2**20:.1f} MB")

    def _stream(
        self, client: httpx.Client, url: str, warmup: int, turns: int, proc: psutil.Process
    ) -> list[str]:
        """Drive streamed turns; the report lines (ms from sending to each first event)."""
        to_meta: list[float] = []
        to_delta: list[float] = []
        to_done: list[float] = []
        ghosted = 0
        peak_rss = 0
        for i in range(warmup + turns):
            body = {"message": MESSAGES[i % len(MESSAGES)]}
            started = time.perf_counter()
            seen: dict[str, float] = {}
            with client.stream("POST", url, json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise CommandError(f"turn {i}: {response.status_code} {response.text}")
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        seen.setdefault(line[7:], (time.perf_counter() - started) * 1000)
            if "error" in seen or "done" not in seen:
                raise CommandError(f"turn {i}: the stream ended without done ({sorted(seen)})")
            peak_rss = max(peak_rss, proc.memory_info().rss)
            if i < warmup:
                continue
            to_meta.append(seen["meta"])
            to_done.append(seen["done"])
            if "delta" in seen:
                to_delta.append(seen["delta"])
            else:
                ghosted += 1
            if (i + 1) % 50 == 0:
                self.stderr.write(f"  {i + 1}/{warmup + turns} turns")
        if not to_delta:
            raise CommandError("every turn was ghosted; nothing streamed")

        def line(label: str, values: list[float]) -> str:
            return (
                f"{label}: p50 {statistics.median(values):.1f}  "
                f"p95 {_percentile(values, 0.95):.1f}  max {max(values):.1f}"
            )

        return [
            f"streamed turns: {turns} (after {warmup} warm-up), offline providers, "
            f"{ghosted} ghosted",
            line("ms to first meta ", to_meta),
            line("ms to first delta", to_delta),
            line("ms to done       ", to_done),
            f"web process peak RSS: {peak_rss / 2**20:.1f} MB",
        ]

    def _load(self, *, clients, seconds, warmup_s, url, **_):
        from eros.benchmark_load import load

        if clients < 1 or seconds <= 0 or warmup_s < 0:
            raise CommandError("need --clients >= 1, --seconds > 0 and --warmup-s >= 0")
        procs: list[subprocess.Popen] = []
        try:
            if not url:
                url = self._start_like_up(procs)
            health = httpx.get(f"{url.rstrip('/')}/healthz", timeout=10).json()
            self.stdout.write(
                f"load on {url}: providers chat={health['providers']['chat']}, "
                f"embeddings={health['providers']['embeddings']}"
            )
            result = load(
                url.rstrip("/"),
                clients=clients,
                seconds=seconds,
                warmup=warmup_s,
                progress=self.stderr.write,
            )
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for line in result.lines():
            self.stdout.write(line)
        if result.non_2xx:
            raise CommandError(f"{result.non_2xx} requests were not answered 2xx")

    def _start_like_up(self, procs: list[subprocess.Popen]) -> str:
        """Migrate, seed, start uvicorn and a django-q2 cluster as ``up`` does; the base URL."""
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_personas", verbosity=0, stdout=open(os.devnull, "w"))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        # A load test is not abuse: the server it starts leaves the per-user and per-address
        # limits off unless the environment sets them.
        env = {
            "API_RATE_LIMIT": "off",
            "API_RATE_LIMIT_IP": "off",
            **os.environ,
            "CHAT_PROVIDER": "offline",
            "EMBEDDINGS_PROVIDER": "local",
        }
        web = [
            sys.executable,
            "-m",
            "uvicorn",
            "eros.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        procs.append(subprocess.Popen(web, cwd=settings.BASE_DIR, env=env))
        worker = [sys.executable, "manage.py", "qcluster"]
        procs.append(subprocess.Popen(worker, cwd=settings.BASE_DIR, env=env))
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, procs[0])
        return base

    def _recall(self, *, warmup, memories, users, queries, database, fresh, drop, no_hnsw, **_):
        from memory.benchmark import RecallBenchmark, run_recall_benchmark

        if memories < 1 or users < 1 or queries < 1 or users > memories:
            raise CommandError("need 1 <= --users <= --memories and --queries >= 1")
        spec = RecallBenchmark(
            memories=memories,
            users=users,
            queries=queries,
            warmup=warmup,
            database=database,
            fresh=fresh,
            drop=drop,
            hnsw=not no_hnsw,
        )
        run_recall_benchmark(spec, out=self.stdout.write, err=self.stderr)
