"""``memory_eval --replay FILE``: run the replay (``companions.services.replay``) and report.

Prints the settings used (providers, memory scope, list sizes, ranking), the hit rate and
stale rate over all questions, and one block per scenario with each question's outcome; with
``-v 2`` also the recalled memories, best first, of every miss or stale answer and the
memories that leaked a ``never`` string. With ``--sweep`` the conversations are replayed once
and the questions asked under every ranking of the grid, one line each. Progress goes to
stderr. A bad file is a one-line error with exit code 2.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from pydantic import ValidationError

from companions.scopes import ScopeError, resolve_memory_scope
from companions.services.replay import (
    ReplayFile,
    ScenarioResult,
    UnknownPersona,
    replay_ask,
    replay_erase,
    replay_personas,
    replay_scenario,
)
from eros.llm.providers import chat_provider_name, embeddings_provider_name, get_embedder
from memory.management.progress import Progress
from memory.selectors import MODE_TEXT, MODE_VECTOR, Ranking

#: Exit code of a file the replay cannot run (as argparse's usage errors).
BAD_INPUT = 2


def load_replay_file(path: Path) -> ReplayFile:
    """The parsed file; raises ``CommandError`` (exit 2) with one line naming the problem."""
    try:
        return ReplayFile.model_validate_json(path.read_bytes())
    except (FileNotFoundError, IsADirectoryError):
        raise CommandError(f"{path}: no such file", returncode=BAD_INPUT) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise CommandError(
            f"{path}: {where + ': ' if where else ''}{message}", returncode=BAD_INPUT
        ) from None


def run_replay(
    command: BaseCommand,
    *,
    path: Path,
    grid: list[Ranking],
    sweep: bool,
    k: int | None,
    memory_scope: str | None,
    keep: bool,
    json_path: Path | None,
    verbosity: int,
) -> None:
    data = load_replay_file(path)
    try:
        scope = resolve_memory_scope(memory_scope)
    except ScopeError as exc:
        raise CommandError(f"--memory-scope: {exc}", returncode=BAD_INPUT) from None
    try:
        genomes = replay_personas(data)
    except UnknownPersona as exc:
        raise CommandError(f"{path}: {exc}", returncode=BAD_INPUT) from None
    embedder = get_embedder()
    replayed = []
    runs: list[tuple[Ranking, list[ScenarioResult]]] = []
    try:
        turns = sum(len(s.turns) for sc in data.scenarios for s in sc.sessions)
        with Progress("replaying turns ", turns, stream=command.stderr) as bar:
            for scenario in data.scenarios:
                replayed.append(
                    replay_scenario(
                        scenario=scenario, genomes=genomes, embedder=embedder, on_turn=bar.advance
                    )
                )
        questions = sum(len(sc.questions) for sc in data.scenarios)
        vectors: dict[str, list[float]] = {}
        with Progress("asking questions", questions * len(grid), stream=command.stderr) as bar:
            for ranking in grid:
                results = []
                for each in replayed:
                    results.append(
                        replay_ask(
                            replayed=each,
                            ranking=ranking,
                            embedder=embedder,
                            memory_scope=scope,
                            k=k,
                            vectors=vectors,
                        )
                    )
                    bar.advance(len(each.scenario.questions))
                runs.append((ranking, results))
    finally:
        if not keep:
            for each in replayed:
                replay_erase(replayed=each)
    common = _common(path, data, replayed, scope.name, k, embedder)
    if sweep:
        payload: object = [
            {**common, **_metrics(results), "ranking": asdict(r)} for r, results in runs
        ]
        _print_sweep(command, common, runs)
    else:
        ((ranking, results),) = runs
        payload = {
            **common,
            **_metrics(results),
            "ranking": asdict(ranking),
            "scenarios": [_scenario_json(r) for r in results],
        }
        _print(command, common, ranking, results, verbosity=verbosity)
    if keep:
        users = ", ".join(str(r.user_id) for r in replayed)
        command.stdout.write(f"kept the replayed users: {users}")
    if json_path is not None:
        json_path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def _common(path, data, replayed, scope_name, k, embedder) -> dict:
    return {
        "file": str(path),
        "scenarios_count": len(data.scenarios),
        "sessions": sum(len(sc.sessions) for sc in data.scenarios),
        "turns": sum(r.turns for r in replayed),
        "ghosted": sum(r.ghosted for r in replayed),
        "failed": sum(r.failed for r in replayed),
        "distilled": sum(r.distilled for r in replayed),
        "dreamed_created": sum(r.dreamed_created for r in replayed),
        "dreamed_merged": sum(r.dreamed_merged for r in replayed),
        "post_process_failures": sum(r.post_process_failures for r in replayed),
        "leaks": sum(len(r.leaks) for r in replayed),
        "chat": chat_provider_name(),
        "embeddings": embeddings_provider_name(),
        "embedder": getattr(embedder, "name", type(embedder).__name__),
        "memory_scope": scope_name,
        "k": k,
    }


def _metrics(results: list[ScenarioResult]) -> dict:
    asked = sum(len(r.questions) for r in results)
    hits = sum(r.hits for r in results)
    stale = sum(r.stale for r in results)
    return {
        "questions": asked,
        "hits": hits,
        "stale": stale,
        "hit_rate": hits / asked if asked else 0.0,
        "stale_rate": stale / asked if asked else 0.0,
    }


def _scenario_json(result: ScenarioResult) -> dict:
    r = result.replayed
    return {
        "id": r.scenario.id,
        "user_id": str(r.user_id),
        "turns": r.turns,
        "ghosted": r.ghosted,
        "leaks": r.leaks,
        "questions": [
            {
                "ask": q.ask,
                "persona": q.persona,
                "hit": q.score.hit,
                "stale": q.score.stale,
                "hit_rank": q.score.hit_rank,
                "stale_rank": q.score.stale_rank,
                "recalled": q.recalled,
            }
            for q in result.questions
        ],
    }


def _settings_lines(common: dict, ranking: Ranking | None) -> list[str]:
    k = common["k"]
    sizes = (
        f"{k} per list"
        if k
        else f"profile {settings.PROFILE_K_PER_CATEGORY} per category (raw "
        f"{settings.PROFILE_RAW_K}), relationship {settings.RELATIONSHIP_K}"
    )
    lines = [
        f"providers: chat {common['chat']}, embeddings {common['embeddings']} "
        f"({common['embedder']}); memory scope {common['memory_scope']}; recalled: {sizes}",
    ]
    if ranking is not None:
        lines.append("ranking: " + describe_ranking(ranking))
    return lines


def describe_ranking(r: Ranking) -> str:
    """One line: the mode and fusion, BM25 and the vector score's weights."""
    if r.mode == MODE_VECTOR:
        how = "vector only"
    elif r.mode == MODE_TEXT:
        how = "text only"
    elif r.fusion == "rrf":
        how = f"fused (rrf k {r.rrf_k}, text weight {r.text_weight:g})"
    else:
        how = f"fused (convex, text weight {r.text_weight:g})"
    return (
        f"{how}; BM25 k1 {r.k1:g}, b {r.b:g}; recency weight {r.recency_weight:g} "
        f"({r.recency_weight_now:g} asking about now; tau {r.recency_tau_days:g} days), "
        f"importance weight {r.importance_weight:g}"
    )


def _header(common: dict) -> str:
    return (
        f"memory_eval --replay {common['file']}: {common['scenarios_count']} scenario(s), "
        f"{common['sessions']} session(s), {common['turns']} turns ({common['ghosted']} "
        f"ghosted, {common['failed']} failed)"
    )


def _activity(common: dict) -> str:
    return (
        f"dreaming: {common['distilled']} session(s) distilled, {common['dreamed_created']} "
        f"memories created, {common['dreamed_merged']} merged; post-process failures "
        f"{common['post_process_failures']}; leaks {common['leaks']}"
    )


def _print(command, common, ranking, results, *, verbosity: int) -> None:
    out = command.stdout.write
    m = _metrics(results)
    out(_header(common))
    for line in _settings_lines(common, ranking):
        out(line)
    out(_activity(common))
    out(
        f"hit rate {m['hit_rate']:.3f} ({m['hits']}/{m['questions']}), "
        f"stale rate {m['stale_rate']:.3f} ({m['stale']}/{m['questions']})"
    )
    for result in results:
        r = result.replayed
        out(
            f"{r.scenario.id}: hits {result.hits}/{len(result.questions)}, stale {result.stale}"
            f", leaks {len(r.leaks)}"
        )
        for q in result.questions:
            verdict = ("hit" if q.score.hit else "miss") + (", stale" if q.score.stale else "")
            asked = f" (to {q.persona})" if q.persona != r.scenario.persona else ""
            out(f"  {verdict:<12} {q.ask}{asked}")
            if verbosity >= 2 and (q.score.stale or not q.score.hit):
                wanted = " + ".join(q.expect)
                out(
                    f"      expected: {wanted}"
                    + (f"; stale: {', '.join(q.stale_strings)}" if q.stale_strings else "")
                )
                if not q.recalled:
                    out("      (nothing recalled)")
                for rank, text in enumerate(q.recalled, start=1):
                    out(f"      {rank:>2}. {_one_line(text)}")
        if verbosity >= 2:
            for text in r.leaks:
                out(f"  leaked: {_one_line(text)}")


def _print_sweep(command, common, runs) -> None:
    out = command.stdout.write
    out(_header(common))
    for line in _settings_lines(common, None):
        out(line)
    out(_activity(common))
    out(f"{'hit rate':>8}  {'stale':>6}  ranking")
    for ranking, results in runs:
        m = _metrics(results)
        out(f"{m['hit_rate']:8.3f}  {m['stale_rate']:6.3f}  {describe_ranking(ranking)}")


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
