"""One writer at a time per store, across processes: a file lock beside an embedded store, a lease on a server.

Reads never take the lock. Writes hold it only while they change Chroma (chunks upserted, the
document registered, replaced versions deleted), not while they embed, so two `assistant add`
runs on one store interleave document by document instead of one waiting for the other's whole
batch. A writer that cannot get the lock within ``Settings.write_lock_timeout`` fails with
``StoreBusy`` naming the process that holds it.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import chromadb
from filelock import FileLock, Timeout

from assistant.errors import StoreBusy

Waiting = Callable[[str], None]
"""Told once, in words, whom a write is waiting for (the CLI prints it, the web app shows it)."""

LEASE_SECONDS = 30.0  # a server lease not renewed for this long belongs to a dead writer
_RENEW_EVERY = 5.0
_POLL = 0.2


def holder_info(action: str) -> dict[str, Any]:
    """Who is writing, for the message another writer sees."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "action": action,
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200], "since": time.time()}


def describe_holder(info: dict[str, Any] | None) -> str:
    if not info:
        return "another process"
    since = time.strftime("%H:%M:%S", time.localtime(float(info.get("since", 0))))
    what = f"{info.get('action')}: {info.get('command')}, since {since}"
    return f"process {info.get('pid')} on {info.get('host')} ({what})"


class LocalWriteLock:
    """An OS file lock in the data folder: released by the kernel when its holder dies, even by SIGKILL."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "write.lock"
        self.owner_path = data_dir / "write.lock.json"
        self._lock = FileLock(str(self.path), thread_local=False)
        self._local = threading.RLock()  # threads of one process take turns before asking the OS

    @contextmanager
    def hold(self, action: str, timeout: float, waiting: Waiting | None = None) -> Iterator[None]:
        with self._local:
            if self._lock.is_locked:  # this process already writes (a nested call): no second OS lock
                yield
                return
            self._acquire(timeout, waiting)
            try:
                self._write_owner(holder_info(action))
                yield
            finally:
                self.owner_path.unlink(missing_ok=True)
                self._lock.release()

    def ensure_held(self) -> None:
        """An OS lock cannot be taken away from a living process: nothing to check."""

    def _acquire(self, timeout: float, waiting: Waiting | None) -> None:
        try:
            self._lock.acquire(timeout=0)
            return
        except Timeout:
            pass
        holder = self._read_owner()
        if waiting:
            waiting(waiting_message(holder))
        try:
            self._lock.acquire(timeout=timeout, poll_interval=_POLL)
        except Timeout:
            raise StoreBusy(busy_message(self._read_owner() or holder, timeout)) from None

    def _write_owner(self, info: dict[str, Any]) -> None:
        staged = self.owner_path.with_suffix(".tmp")
        staged.write_text(json.dumps(info), encoding="utf-8")
        os.replace(staged, self.owner_path)

    def _read_owner(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.owner_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


class ServerWriteLock:
    """A lease on a Chroma server: a marker collection whose creation is atomic, renewed while held.

    Writers on different machines share no file system, so the lock lives in Chroma itself:
    creating a collection fails if it exists, which makes ``create_collection`` a test-and-set.
    The holder renews the lease every few seconds. A waiter that sees the same lease unrenewed for
    LEASE_SECONDS by its own clock (machines' clocks differ) takes it over: it renames that very
    collection, by id, out of the way, so two waiters can never both remove a live lease. A
    holder whose lease was taken over finds out before its next commit (``ensure_held``) and stops.
    """

    def __init__(self, client: chromadb.ClientAPI, name: str, lease_seconds: float = LEASE_SECONDS) -> None:
        self.client = client
        self.name = name
        self.lease_seconds = lease_seconds
        self._local = threading.RLock()
        self._depth = 0
        self._token: str | None = None
        self._lost = threading.Event()

    def ensure_held(self) -> None:
        """Raise StoreBusy if the lease was lost (taken over after missed renewals); call before committing."""
        if self._token is None:
            return
        holder = self._holder()
        if self._lost.is_set() or holder is None or holder.get("token") != self._token:
            self._lost.set()
            raise StoreBusy(f"this process lost its write lease to {describe_holder(holder)} (renewals failed for "
                            f"{self.lease_seconds:g} s); it stopped before committing: run the command again")

    @contextmanager
    def hold(self, action: str, timeout: float, waiting: Waiting | None = None) -> Iterator[None]:
        with self._local:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            token = self._acquire(holder_info(action), timeout, waiting)
            self._depth, self._token = 1, token
            self._lost.clear()
            stop = threading.Event()
            renewer = threading.Thread(target=self._renew, args=(token, stop), daemon=True, name="lease-renewer")
            renewer.start()
            try:
                yield
            finally:
                stop.set()
                renewer.join()
                self._depth, self._token = 0, None
                self._remove(token)

    def _acquire(self, info: dict[str, Any], timeout: float, waiting: Waiting | None) -> str:
        token = f"{info['pid']}-{time.time_ns()}"
        deadline = time.monotonic() + timeout
        told = False
        watched: tuple[Any, Any] | None = None  # the lease as last seen, and since when (this machine's clock)
        since = time.monotonic()
        while True:
            if self._try_create(token, info):
                return token
            holder = self._holder()
            state = None if holder is None else (holder.get("token"), holder.get("renewed"))
            if state != watched:
                watched, since = state, time.monotonic()
            elif holder is not None and time.monotonic() - since > self.lease_seconds:
                self._remove(holder.get("token"))  # unrenewed for a whole lease: its writer died
                continue
            if time.monotonic() >= deadline:
                raise StoreBusy(busy_message(holder, timeout))
            if waiting and not told:
                waiting(waiting_message(holder))
                told = True
            time.sleep(_POLL)

    def _try_create(self, token: str, info: dict[str, Any]) -> bool:
        metadata = {**{k: str(v) for k, v in info.items()}, "token": token, "renewed": time.time()}
        try:
            self.client.create_collection(self.name, metadata=metadata, embedding_function=None)
            return True
        except Exception:  # already exists (the error type differs between Chroma versions and transports)
            return False

    def _holder(self) -> dict[str, Any] | None:
        try:
            return dict(self.client.get_collection(self.name).metadata or {})
        except Exception:  # released in the meantime
            return None

    def _remove(self, token: Any) -> None:
        """Remove the lease if it is still the one with ``token``: move it out of the way by id, then delete it.

        Renaming works on the collection's id, not its name: if another writer replaced that lease
        with a live one meanwhile, the rename hits the old collection (or nothing), never the live lease.
        """
        try:
            collection = self.client.get_collection(self.name)
            if (collection.metadata or {}).get("token") != token:
                return
            grave = f"{self.name}-gone-{uuid.uuid4().hex[:8]}"
            collection.modify(name=grave)
            self.client.delete_collection(grave)
        except Exception:  # someone else removed it first
            return

    def _renew(self, token: str, stop: threading.Event) -> None:
        while not stop.wait(_RENEW_EVERY):
            try:
                collection = self.client.get_collection(self.name)
                metadata = dict(collection.metadata or {})
                if metadata.get("token") != token:
                    self._lost.set()
                    return
                metadata["renewed"] = time.time()
                collection.modify(metadata=metadata)
            except Exception:  # a missed renewal only shortens the lease; the write goes on
                continue


def waiting_message(holder: dict[str, Any] | None) -> str:
    return f"waiting for {describe_holder(holder)} to finish writing to this store"


def busy_message(holder: dict[str, Any] | None, timeout: float) -> str:
    return (f"the store is busy: {describe_holder(holder)} is writing to it and did not finish within "
            f"{timeout:g} s; try again when it is done, or raise ASSISTANT_WRITE_LOCK_TIMEOUT")


WriteLock = LocalWriteLock | ServerWriteLock
