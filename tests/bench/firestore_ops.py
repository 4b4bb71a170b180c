"""Counting Firestore document reads and writes, named by document path, at the gRPC channel.

Firestore bills per document: a get reads one document (found or not), a query reads each document it
returns (at least one), a commit writes each document it names. Counting at the channel sees exactly what
the client library sends, whatever adapter code produced it. Paths are named with their ids replaced by
`{}`, e.g. `clinics/{}/calendars/{}/eventLinks/{}`.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
from google.cloud import firestore

_DOCUMENTS = re.compile(r"^projects/[^/]+/databases/[^/]+/documents/?")


def template(name: str) -> str:
    """`clinics/{}/appointments/{}` for `projects/p/databases/(default)/documents/clinics/c/appointments/a`."""
    path = _DOCUMENTS.sub("", name)
    parts = path.split("/") if path else []
    return "/".join(part if index % 2 == 0 else "{}" for index, part in enumerate(parts))


class FirestoreOps(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """A gRPC client interceptor that counts document reads and writes by path template, and RPCs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reads: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()
        self.rpcs: Counter[str] = Counter()
        # Each commit's writes by path template, in order: how many batches a step took, and of what.
        self._commits: list[Counter[str]] = []

    def reset(self) -> None:
        with self._lock:
            self.reads.clear()
            self.writes.clear()
            self.rpcs.clear()
            self._commits.clear()

    def commits(self) -> list[Counter[str]]:
        """The documents each commit since the last reset wrote, by path template."""
        with self._lock:
            return [Counter(names) for names in self._commits]

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Copies of the counters: {"reads": {...}, "writes": {...}, "rpcs": {...}}."""
        with self._lock:
            return {"reads": dict(self.reads), "writes": dict(self.writes), "rpcs": dict(self.rpcs)}

    def _count(self, counter: Counter[str], name: str, n: int = 1) -> None:
        with self._lock:
            counter[name] += n

    # --- unary calls: Commit, BeginTransaction, Rollback, GetDocument ------------------------------
    def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        method = str(client_call_details.method).rsplit("/", 1)[-1]
        self._count(self.rpcs, method)
        if method == "Commit":
            names = Counter(template(_written_document(write)) for write in request.writes)
            with self._lock:
                self.writes.update(names)
                self._commits.append(names)
        elif method == "GetDocument":
            self._count(self.reads, template(request.name))
        return continuation(client_call_details, request)

    # --- streams: BatchGetDocuments, RunQuery --------------------------------------------------------
    def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        method = str(client_call_details.method).rsplit("/", 1)[-1]
        self._count(self.rpcs, method)
        responses = continuation(client_call_details, request)
        if method == "BatchGetDocuments":
            for name in request.documents:
                self._count(self.reads, template(name))
            return responses
        if method == "RunQuery":
            query = request.structured_query
            source = query.from_[0] if query.from_ else None
            group = "**/" if source is not None and source.all_descendants else "/"
            name = (
                f"query {template(request.parent).rstrip('/')}{group}{source.collection_id if source else ''}"
            )
            return _CountedStream(responses, lambda n: self._count(self.reads, name.replace("//", "/"), n))
        return responses


def _written_document(write: Any) -> str:
    kind = write._pb.WhichOneof("operation") if hasattr(write, "_pb") else write.WhichOneof("operation")
    if kind == "update":
        return str(write.update.name)
    if kind == "delete":
        return str(write.delete)
    return str(write.transform.document)


class _CountedStream:
    """A RunQuery response stream that counts the documents it returns (at least one read per query)."""

    def __init__(self, wrapped: Any, count: Any) -> None:
        self._wrapped = wrapped
        self._count = count
        self._documents = 0
        self._finished = False

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        try:
            response = next(self._wrapped)
        except StopIteration:
            self._finish()
            raise
        if response.document.name if hasattr(response, "document") else False:
            self._documents += 1
        return response

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._count(max(1, self._documents))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


class CountingClient(firestore.Client):
    """A Firestore client on the emulator whose channel counts reads and writes into `ops`."""

    def __init__(self, ops: FirestoreOps, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ops = ops

    def _emulator_channel(self, transport: Any) -> Any:
        return grpc.intercept_channel(super()._emulator_channel(transport), self.ops)
