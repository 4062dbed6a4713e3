"""Semantic cache: a question that means the same as one answered before gets that answer.

Only the last user message is compared by meaning (MiniLM cosine similarity); the rest
of the request must match exactly, so its hash is part of the scope, with the team, the
model and the prompt version (name@version, or none): a different system prompt, earlier
turn, temperature or grammar is a different question. An entry older than ``ttl_s`` is
never served (the search filters on its age) and is deleted by the next purge; above
``max_entries`` the oldest go first.

Entries live in a Qdrant Edge shard under ``<LADLE_DATA_DIR>/gateway/semantic/<model>``,
owned by the gateway process (Edge admits one process per folder): the store of record
(vectors, answers, ages, scopes). The similarity search runs on an in-memory copy of the
vectors (``vectors.VectorIndex``: sign-bit ranking, exact float32 rerank; a few ms at
100k entries in one scope), filled from the shard at start-up and kept in step with it;
the candidates' questions and answers are then read from the shard. (Edge's own index needs
``optimize``, which holds the GIL for seconds, HNSW for minutes, at 100k entries: it would
freeze the gateway.)

Closeness is not sameness: MiniLM puts "is the clinic open on Sundays" and "... closed on
Sundays", or "14 days" and "40 days", at cosine 0.9 and above. So with a verifier (the default,
``verifier``) the entries at or above ``threshold`` are only candidates: the closest few are
checked best first, and the first one the verifier accepts as having the same answer is
served (``services.gateway.verifier``: deterministic guards, then a small pair model). Without
one, the closest entry at or above ``threshold`` is served. Embedding, search and
verification run in worker threads, off the event loop. A failing lookup or store is logged
and counted, never the request's failure.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import structlog
from prometheus_client import Counter, Histogram

from schemas import PromptRef
from schemas.base import stable_id
from services.gateway.cache import answer_fields, digest
from services.gateway.config import SemanticCacheConfig
from services.gateway.vectors import VectorIndex
from services.gateway.verifier import Verdict, Verifier
from shared.qdrant_edge import edge, open_shard

log = structlog.get_logger(__name__)

VECTOR = "dense"
LOOKUPS = Counter(
    "ladle_gateway_semantic_lookups_total",
    "Semantic cache lookups: hit, miss (no candidate), rejected (the verifier refused every candidate), skipped, error",
    ["outcome"],
)
REJECTIONS = Counter(
    "ladle_gateway_semantic_rejections_total",
    "Lookups whose candidates the verifier refused, by what refused the closest: a guard (numbers, dates, "
    "negation, opposites, names, scope, ...), model, cosine or unverifiable",
    ["kind"],
)
LOOKUP_SECONDS = Histogram(
    "ladle_gateway_semantic_lookup_seconds",
    "One lookup by stage: embed (the model), search (the index and reading the candidates), verify",
    ["stage"], buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
)  # fmt: skip
SEARCH_SECONDS, VERIFY_SECONDS = LOOKUP_SECONDS.labels("search"), LOOKUP_SECONDS.labels("verify")


def message_text(message: dict) -> str | None:
    """A message's text: a string, or text-only parts joined; None for images, audio and the like."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "\n".join(str(p.get("text", "")) for p in content)
    return None


def split(team: str, model: str, body: dict, prompt: PromptRef | None = None) -> tuple[str, str] | None:
    """(scope, text): the last user message's text, and a hash of everything else that decides
    the answer (with the prompt version the request named, if any). None when the request does
    not end with a user's text."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else None
    if not isinstance(last, dict) or last.get("role") != "user":
        return None
    text = message_text(last)
    if not text or not text.strip():
        return None
    rest = {**answer_fields(body), "messages": [*messages[:-1], {**last, "content": None}]}
    version = f"{prompt.name}@{prompt.version}" if prompt is not None else "none"
    return digest("semantic", team, model, version, rest), text


@dataclass(slots=True)
class Found:
    """A lookup's closest candidate: the one served (``response`` set) or, when the verifier refused
    every candidate, the closest one with its refusal."""

    text: str  # the cached question
    score: float  # its cosine with the asked question
    response: dict | None = None  # the cached answer; None: not served
    verdict: Verdict | None = None  # None: no verifier, the threshold alone decided

    def headers(self) -> dict[str, str]:
        """x-ladle-semantic-*: the candidate's cosine and the verifier's score and what decided (one
        word: ok, same, or the guard or gate that refused; the full reason is in the LLMCall)."""
        out = {"x-ladle-semantic-score": f"{self.score:.4f}"}
        if self.verdict is not None:
            out["x-ladle-semantic-verifier-score"] = f"{self.verdict.score:.4f}"
            out["x-ladle-semantic-verdict"] = self.verdict.kind
        return out


@dataclass(slots=True)
class Probe:
    """One request's lookup: what a store after the upstream's answer needs, and what it found."""

    scope: str
    text: str
    vector: list[float]
    found: Found | None = None

    @property
    def hit(self) -> dict | None:
        return self.found.response if self.found is not None else None


class SemanticCache:
    def __init__(self, config: SemanticCacheConfig, folder: Path, encoder, clock=time.time) -> None:
        self.config, self.encoder, self.clock = config, encoder, clock  # wall clock: entries outlive restarts
        self.serves = frozenset(config.aliases)
        self._q = edge()
        self._lock = threading.Lock()
        self.path = folder
        self.shard = open_shard(
            folder, "the semantic cache", "another gateway uses this LADLE_DATA_DIR; stop it or give this one its own",
            create={VECTOR: encoder.dim}, keyword_indexes=["scope"], float_indexes=["created_at"],
        )  # fmt: skip
        self.verifier = Verifier.load(config.verifier) if config.verifier is not None else None
        self.index = VectorIndex(encoder.dim)
        self._load_index()
        self.size = self.count()
        self._purged = clock()

    def _load_index(self, page: int = 2048) -> None:
        q, offset = self._q, None
        while True:
            records, offset = self.shard.scroll(q.ScrollRequest(
                offset=offset, limit=page, with_payload=q.PayloadSelector.Include(["scope", "created_at"]),
                with_vector=[VECTOR],
            ))  # fmt: skip
            self.index.add((str(r.id), r.payload["scope"], r.vector[VECTOR], r.payload["created_at"]) for r in records)
            if offset is None:
                return

    # -- the index (blocking; the async methods below call these in a worker thread) --------

    def search(self, scope: str, vector: Sequence[float], text: str) -> Found | None:
        """The served candidate, or the closest refused one, or None when no live entry of the scope
        reaches the threshold. ``text`` (the asked question) is what the verifier checks; without
        a verifier the closest entry at or above the threshold is served."""
        t0 = time.perf_counter()
        after, gate = self.clock() - self.config.ttl_s, self.config.threshold
        if self.verifier is None:
            best = self.index.nearest(scope, vector, after)
            close = [best] if best is not None and best[1] >= gate else []
        else:
            gate = max(gate, self.verifier.gate)  # below the verifier's lowest gate nothing is served
            close = [c for c in self.index.top(scope, vector, after, self.config.candidates) if c[1] >= gate]
        if not close:
            SEARCH_SECONDS.observe(time.perf_counter() - t0)
            return None
        with self._lock:
            records = self.shard.retrieve([i for i, _ in close], self._q.PayloadSelector.Include(["response", "text"]),
                                          False)  # fmt: skip
        payloads = {str(r.id): r.payload for r in records}
        close = [(i, score) for i, score in close if i in payloads]  # the rest were evicted meanwhile
        t1 = time.perf_counter()
        SEARCH_SECONDS.observe(t1 - t0)
        if not close:
            return None
        if self.verifier is None:
            i, score = close[0]
            return Found(payloads[i]["text"], score, orjson.loads(payloads[i]["response"]))
        asked = self.verifier.prepare(text)
        refused = None
        try:
            for i, score in close:
                verdict = self.verifier.verify(payloads[i]["text"], asked, score)
                if verdict.ok:
                    return Found(payloads[i]["text"], score, orjson.loads(payloads[i]["response"]), verdict)
                refused = refused or Found(payloads[i]["text"], score, None, verdict)
            return refused
        finally:
            VERIFY_SECONDS.observe(time.perf_counter() - t1)

    def put(self, entries: Sequence[tuple[str, str, Sequence[float], dict | str]]) -> None:
        """(scope, text, vector, response): the same text in the same scope replaces its entry."""
        q, now = self._q, self.clock()
        points = [
            q.Point(stable_id("semantic", scope, text), {VECTOR: list(vector)},
                    {"scope": scope, "text": text, "created_at": now,
                     "response": resp if isinstance(resp, str) else orjson.dumps(resp).decode()})
            for scope, text, vector, resp in entries
        ]  # fmt: skip
        with self._lock:
            self.shard.update(q.UpdateOperation.upsert_points(points))
            self.index.add(
                (str(p.id), scope, vector, now) for p, (scope, _, vector, _) in zip(points, entries, strict=True)
            )
            self.size += len(points)  # an upper bound: a replaced entry is counted twice until the next evict
        if self.size > self.config.max_entries or now - self._purged >= min(60.0, self.config.ttl_s):
            self.evict()

    def evict(self) -> int:
        """Delete expired entries, then the oldest above max_entries; returns how many remain."""
        q, now = self._q, self.clock()
        with self._lock:
            expired = q.FieldCondition("created_at", range=q.RangeFloat(lte=now - self.config.ttl_s))
            self.shard.update(q.UpdateOperation.delete_points_by_filter(q.Filter(must=[expired])))
            self.index.expire(now - self.config.ttl_s)
            self._purged = now
            n = self.count()
            over = n - self.config.max_entries
            if over > 0:
                over += self.config.max_entries // 10  # headroom: the next puts do not evict again at once
                oldest, _ = self.shard.scroll(
                    q.ScrollRequest(limit=over, order_by=q.OrderBy("created_at"), with_payload=False)
                )
                self.shard.update(q.UpdateOperation.delete_points([r.id for r in oldest]))
                self.index.remove(str(r.id) for r in oldest)
                n = self.count()
            self.size = n
        return n

    def count(self) -> int:
        return self.shard.count(self._q.CountRequest(exact=True))

    def close(self) -> None:
        with self._lock:
            self.shard.flush()
            self.shard.close()

    # -- the request path -----------------------------------------------------------------

    async def lookup(self, team: str, model: str, body: dict, prompt: PromptRef | None = None) -> Probe | None:
        """The request's probe (hit or not); None when it has no user text or the cache failed."""
        parts = split(team, model, body, prompt)
        if parts is None:
            LOOKUPS.labels("skipped").inc()
            return None
        scope, text = parts
        try:
            t0 = time.perf_counter()
            vector = await asyncio.to_thread(self.encoder.encode_query, text)
            LOOKUP_SECONDS.labels("embed").observe(time.perf_counter() - t0)
            found = await asyncio.to_thread(self.search, scope, vector, text)
        except Exception as exc:  # noqa: BLE001 - a cache failure must not fail the request
            LOOKUPS.labels("error").inc()
            log.warning("semantic_cache.lookup_failed", error=f"{type(exc).__name__}: {exc}")
            return None
        if found is None:
            LOOKUPS.labels("miss").inc()
        elif found.response is not None:
            LOOKUPS.labels("hit").inc()
        else:
            LOOKUPS.labels("rejected").inc()
            REJECTIONS.labels(found.verdict.kind).inc()
        return Probe(scope, text, vector, found)

    async def store(self, probe: Probe, response: dict) -> None:
        try:
            await asyncio.to_thread(self.put, [(probe.scope, probe.text, probe.vector, response)])
        except Exception as exc:  # noqa: BLE001
            log.warning("semantic_cache.store_failed", error=f"{type(exc).__name__}: {exc}")
