"""Live load for the streaming tests and benchmark, counted record by record. No Beam here.

What a production stream looks like from outside the job, and how to count what came out:

- :class:`ArticleMaker`: message ``i`` of a run as a JSON article (the Kafka source's format),
  ~3 KB of text in one of seven languages, keyed ``load-<i>``, titled ``Load <i>: ...`` so the
  output can be counted by title; one in ten is a near copy of an earlier one (new outlet and
  headline, a sentence dropped), so Dedupe has real work;
- :func:`poison`: the messages a source must dead-letter (invalid JSON, 100,000 nested ``[``,
  an article without a URL);
- :class:`FixedRateProducer`: sends message ``i`` at ``start + i / rate`` from a thread
  (``acks=all``, idempotent), and records for each the wall time it was sent and, once the broker
  acknowledged it, its partition and offset; a producer that falls behind catches up in bursts;
- :class:`OutputCounter`: reads each complete Avro file under a job's ``--output`` once (files
  under their final ``*.avro`` name are complete; ``.inprogress`` ones are not) and counts the
  copies of each article and the dead letters, with the time each article was first written;
- :class:`GroupOffsets`: the consumer group's committed offsets and the topic's end offsets, as
  ``wirewatch monitor`` reads them (admin API, never joining the group);
- :func:`wait_until_written`: until the output holds what was produced, or provably never will;
- :func:`rss_mb`, :func:`cpu_seconds`: resident memory and CPU time used so far of processes
  (e.g. a job's, ``tests.live_job.LiveJob.tree``).

Example::

    producer = FixedRateProducer(bootstrap, "articles", rate=100, seconds=60, poison_every=500)
    producer.start()
    ...
    counter = OutputCounter(out, producer.total)
    counter.update()
    lost = producer.articles_acked() & (counter.copies == 0)
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable, Collection
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaTimeoutError

from benchmarks.corpus import generate
from wirewatch.connectors.kafka import KafkaConfig
from wirewatch.connectors.kafka.admin import check_reachable
from wirewatch.schemas.records import ARTICLE_EVENT, DEAD_LETTER, read_records

__all__ = ["POISON_KINDS", "ArticleMaker", "DeadLetterSeen", "FixedRateProducer",
           "GroupOffsets", "OutputCounter", "cpu_seconds", "poison", "rss_mb", "title_index",
           "wait_until_written"]

TITLE_PREFIX = "Load "
#: Kinds of poison message, in the order they are interleaved.
POISON_KINDS = ("invalid_json", "deep_nesting", "missing_url")
_SENTENCES_PER_ARTICLE = 20
_COPY_EVERY = 10  # message i with i % 10 == 5 is a near copy of message i - 5


class ArticleMaker:
    """Message ``i`` as (key, JSON value); the same ``i`` always gives the same bytes."""

    def __init__(self, seed: int = 11) -> None:
        pools: dict[str, list[str]] = {}
        for article in generate(300, seed=seed, copy_rate=0.0, hard_rate=0.0):
            end = ". " if article.text.count(". ") else "。"
            pools.setdefault(article.lang, []).extend(
                s + end.strip() for s in article.text.split(end) if s.strip())
        self._languages = sorted(pools)
        self._pools = [pools[lang] for lang in self._languages]

    def _picks(self, i: int) -> tuple[int, list[int]]:
        language = i % len(self._languages)
        rng = random.Random(i)
        return language, rng.sample(range(len(self._pools[language])), _SENTENCES_PER_ARTICLE)

    def article(self, i: int) -> tuple[bytes, bytes]:
        if i % _COPY_EVERY == _COPY_EVERY // 2:
            language, picks = self._picks(i - _COPY_EVERY // 2)
            picks = picks[1:]  # republished with its first sentence dropped
        else:
            language, picks = self._picks(i)
        sentences = [self._pools[language][k] for k in picks]
        outlet = f"outlet{i % 12}"
        value = {"url": f"https://{outlet}.example/load/{i}", "outlet": outlet,
                 "title": f"{TITLE_PREFIX}{i}: {sentences[0][:60]}",
                 "content": "".join(f"<p>{s}</p>" for s in sentences)}
        return f"load-{i}".encode(), json.dumps(value, ensure_ascii=False).encode()


def poison(kind: str, i: int) -> bytes:
    """A message no source may crash on or drop silently: it must become a dead letter."""
    if kind == "invalid_json":
        return b'{"url": "https://load.example/%d", "title": ' % i
    if kind == "deep_nesting":
        return b"[" * 100_000
    if kind == "missing_url":
        return json.dumps({"outlet": "Load", "title": f"No url {i}"}).encode()
    raise ValueError(f"unknown poison kind {kind!r}")


def title_index(title: str) -> int | None:
    """``i`` of a title ``ArticleMaker`` wrote, else None."""
    if not title.startswith(TITLE_PREFIX):
        return None
    number, colon, _ = title[len(TITLE_PREFIX):].partition(":")
    return int(number) if colon and number.isdigit() else None


class FixedRateProducer:
    """Messages ``first .. first + rate * seconds - 1``, message ``first + j`` sent at
    ``start + j / rate`` (s), from a thread.

    Every ``poison_every``-th message (when > 0) is poison (:data:`POISON_KINDS` in turn), the
    others articles. Per message, indexed by ``i``: ``sent_s`` (wall time of ``send()``), and
    once the broker acknowledged it with ``acks=all``, ``partition`` and ``offset`` (-1 until
    then; ``first`` > 0 leaves the rows below it unused, so several producers of one run can
    share an :class:`OutputCounter`). Messages the producer gave up on (after its
    ``delivery_timeout_ms``, 2 minutes) are in ``failed`` as (i, error).
    """

    def __init__(self, bootstrap: str, topic: str, rate: float, seconds: float,
                 maker: ArticleMaker | None = None, poison_every: int = 0,
                 first: int = 0) -> None:
        self.topic = topic
        self.rate = rate
        self.first = first
        self.total = first + int(rate * seconds)  # one past the last message number
        self.poison_every = poison_every
        self._bootstrap = bootstrap
        self._maker = maker or ArticleMaker()
        self.sent_s = np.full(self.total, np.nan)
        self.partition = np.full(self.total, -1, np.int32)
        self.offset = np.full(self.total, -1, np.int64)
        self.failed: list[tuple[int, str]] = []
        self.sent = first  # messages below this were sent
        self.started_s: float | None = None  # wall time of the first send
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fixed-rate-producer", daemon=True)

    def kind(self, i: int) -> str:
        """``"article"`` or the poison kind of message ``i``."""
        if self.poison_every and (i + 1) % self.poison_every == 0:
            return POISON_KINDS[(i // self.poison_every) % len(POISON_KINDS)]
        return "article"

    def start(self) -> None:
        self._thread.start()

    def finished(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout_s: float | None = None) -> None:
        """Wait until every message was sent and acknowledged (or failed)."""
        self._thread.join(timeout_s)

    def stop(self) -> None:
        """Send nothing more; wait for what was sent."""
        self._halt.set()
        self._thread.join(180)

    def _acked(self, i: int, metadata) -> None:
        self.partition[i] = metadata.partition
        self.offset[i] = metadata.offset

    def _run(self) -> None:
        producer = KafkaProducer(bootstrap_servers=self._bootstrap, acks="all",
                                 enable_idempotence=True, linger_ms=5,
                                 reconnect_backoff_max_ms=1000)
        try:
            self.started_s = time.time()
            start = time.monotonic()
            while self.sent < self.total and not self._halt.is_set():
                due = min(self.total,
                          self.first + int((time.monotonic() - start) * self.rate) + 1)
                for i in range(self.sent, due):
                    kind = self.kind(i)
                    key, value = (self._maker.article(i) if kind == "article"
                                  else (None, poison(kind, i)))
                    self.sent_s[i] = time.time()
                    try:
                        future = producer.send(self.topic, value=value, key=key)
                    except Exception as e:  # counted; the run goes on
                        self.failed.append((i, repr(e)))
                    else:
                        future.add_callback(self._acked, i)
                        future.add_errback(lambda e, i=i: self.failed.append((i, repr(e))))
                    self.sent = i + 1
                pause = start + (self.sent - self.first) / self.rate - time.monotonic()
                if pause > 0:
                    self._halt.wait(pause)
        finally:
            # What is not acknowledged by then is not counted as produced.
            with suppress(KafkaTimeoutError):
                producer.flush(timeout=150)
            with suppress(KafkaTimeoutError):
                producer.close(timeout=10)

    def acked(self) -> np.ndarray:
        """Mask of messages the broker acknowledged."""
        return self.offset >= 0

    def articles_acked(self) -> np.ndarray:
        """Mask of acknowledged articles (no poison)."""
        mask = self.acked()
        if self.poison_every:
            mask[self.poison_every - 1::self.poison_every] = False
        return mask

    def acked_count(self) -> int:
        return int(np.count_nonzero(self.acked()))

    def poison_acked(self) -> list[tuple[int, str, int, int]]:
        """(i, kind, partition, offset) of each acknowledged poison message."""
        if not self.poison_every:
            return []
        return [(i, self.kind(i), int(self.partition[i]), int(self.offset[i]))
                for i in range(self.first, self.total) if self.kind(i) != "article"
                if self.offset[i] >= 0]


@dataclass(frozen=True)
class DeadLetterSeen:
    stage: str
    error_type: str
    partition: int | None
    offset: int | None


class OutputCounter:
    """Copies of each article ``i`` in the complete Avro files under ``out``; dead letters.

    ``update()`` reads only files it has not read: a file is renamed to its ``*.avro`` name
    once complete and never changes after. ``first_written_s[i]`` is the modification time of
    the first file holding article ``i``: the time its last bytes were written, just before
    the writer renamed it into place.
    """

    def __init__(self, out: Path, capacity: int) -> None:
        self.out = Path(out)
        self.copies = np.zeros(capacity, np.int32)
        self.first_written_s = np.full(capacity, np.inf)
        self.dead_letters: list[DeadLetterSeen] = []
        self.strangers = 0  # article events not made by ArticleMaker (or beyond capacity)
        self._read: set[Path] = set()

    def update(self) -> None:
        fresh = []
        for folder in ("article_events", "dead_letters"):
            if (self.out / folder).is_dir():
                fresh += [p for p in (self.out / folder).glob("*.avro") if p not in self._read]
        for path in fresh:
            written_s = path.stat().st_mtime
            for kind, record in read_records([path]):
                if kind == ARTICLE_EVENT:
                    i = title_index(record["title"])
                    if i is None or i >= len(self.copies):
                        self.strangers += 1
                        continue
                    self.copies[i] += 1
                    self.first_written_s[i] = min(self.first_written_s[i], written_s)
                elif kind == DEAD_LETTER:
                    source = record["source"]
                    self.dead_letters.append(DeadLetterSeen(
                        record["stage"], record["error_type"], source["partition"],
                        source["offset"]))
            self._read.add(path)

    def written(self) -> int:
        """Distinct articles written."""
        return int(np.count_nonzero(self.copies))

    def duplicates(self) -> int:
        """Records beyond the first of each article."""
        return int(self.copies.sum()) - self.written()


class GroupOffsets:
    """Committed offsets of ``group`` and end offsets of ``topic``, per partition.

    ``read()`` answers None while the broker does not (e.g. restarting) and reconnects on the
    next call.
    """

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self._config = KafkaConfig(bootstrap)
        self._group = group
        self._topic = topic
        self._admin: KafkaAdminClient | None = None
        self._consumer: KafkaConsumer | None = None

    def read(self) -> tuple[dict[int, int], dict[int, int]] | None:
        """({partition: committed}, {partition: end}); a partition never committed is absent
        from the first."""
        try:
            if self._admin is None:
                check_reachable(self._config, timeout_s=1)  # kafka-python would wait 10 s
                kwargs = {**self._config.client_kwargs(), "request_timeout_ms": 5000}
                self._admin = KafkaAdminClient(**kwargs)
                self._consumer = KafkaConsumer(**kwargs, enable_auto_commit=False)
            tps = [TopicPartition(self._topic, p)
                   for p in sorted(self._consumer.partitions_for_topic(self._topic) or ())]
            ends = self._consumer.end_offsets(tps)
            found = self._admin.list_group_offsets({self._group: tps}).get(self._group, {})
        except Exception:  # a broker that went away: ask again later
            self.close()
            return None
        committed = {tp.partition: found[tp].offset for tp in tps
                     if tp in found and found[tp].offset >= 0}
        return committed, {tp.partition: end for tp, end in ends.items()}

    def committed_total(self) -> int | None:
        read = self.read()
        return None if read is None else sum(read[0].values())

    def close(self) -> None:
        for client in (self._admin, self._consumer):
            if client is not None:
                with suppress(Exception):  # closing a client of a broker that went away
                    client.close()
        self._admin = self._consumer = None


def wait_until_written(counter: OutputCounter, expected: np.ndarray, offsets: GroupOffsets,
                       timeout_s: float, quiet_s: float,
                       tick: Callable[[], object] = lambda: None,
                       letters: Collection[tuple[int, int]] = ()) -> str:
    """Wait until every article in the mask ``expected`` is written and every (partition,
    offset) in ``letters`` has its dead letter (``"written"``), or the group has committed every
    partition to its end and no record came out for ``quiet_s`` (``"quiet"``: whatever is
    missing will not come), or ``timeout_s`` passed (``"timeout"``). ``tick`` runs on every
    round (e.g. to restart a job that died).

    Dead letters are waited for too because they go to files of their own: the last articles'
    file can be complete while the dead letter of a poison message read with them is still in
    flight (uncommitted, so not lost), and a stop then would count it as missing."""
    deadline = time.monotonic() + timeout_s
    records, changed = -1, time.monotonic()
    while True:
        tick()
        counter.update()
        lettered = {(d.partition, d.offset) for d in counter.dead_letters}
        if not (expected & (counter.copies == 0)).any() and lettered.issuperset(letters):
            return "written"
        now_records = int(counter.copies.sum()) + len(counter.dead_letters)
        if now_records != records:
            records, changed = now_records, time.monotonic()
        read = offsets.read()
        caught_up = read is not None and all(read[0].get(p, -1) >= end
                                             for p, end in read[1].items())
        if caught_up and time.monotonic() - changed >= quiet_s:
            return "quiet"
        if time.monotonic() > deadline:
            return "timeout"
        time.sleep(0.5)


def rss_mb(pids: list[int]) -> float:
    """Resident memory of ``pids`` together, in MB (processes gone meanwhile count 0)."""
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total_kb / 1024


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) ``pids`` have used so far, together, in seconds (processes gone
    meanwhile count 0)."""
    ticks = 0
    for pid in pids:
        try:
            # fields after the command name, which is in parentheses and may hold spaces
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
        except (OSError, ValueError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")
