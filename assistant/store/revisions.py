"""Revision stamps: how every process learns that documents came or went, or the index was rebuilt.

A stamp is ``epoch/change``; the registry's metadata holds the current one beside the name of the
active chunk collection, so one read gives both. Writers move it; readers compare it.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


def new_revision() -> str:
    return f"{time.time():.6f}-{uuid.uuid4().hex[:8]}"


def first_revision() -> str:
    stamp = new_revision()
    return f"{stamp}/{stamp}"


def pending_mark(**mark: Any) -> str:
    """The registry's ``pending`` value for a write under way ("" for none); see Store._set_pending."""
    return json.dumps(mark) if mark else ""


def epoch_of(revision: str) -> str:
    """The part of a revision stamp that changes only when a reindex switches to a new chunk collection."""
    return revision.partition("/")[0]


class Revisions:
    """The Store's revision stamp and registry metadata (mixed into Store)."""

    def revision(self) -> str:
        """A stamp that changes whenever a document is committed or deleted, by any process.

        Its first part (``epoch_of``) changes only when a reindex switches to a new chunk collection,
        so a reader can tell documents coming and going (same epoch) from a rebuilt index.
        It lives in the registry's metadata beside the name of the active chunk collection: one read
        gives both. Reading it also keeps this process's view current: the chunk collection a
        reindex switched to, and an embedded store's indexes after another process wrote
        (see ``Connection``).
        """
        with self._connection.gate.shared():
            self._rebind()
            meta = self._registry_meta()
            self._follow(meta)
        stamp = str(meta.get("revision", ""))
        self._connection.observe(self.docs_name, stamp)
        return stamp

    def _bump_revision(self) -> None:
        """A new stamp in the same epoch: documents came or went."""
        epoch = epoch_of(str(self._registry_meta().get("revision", "")))
        self._update_registry_meta(revision=f"{epoch}/{new_revision()}")

    def _registry_meta(self) -> dict[str, Any]:
        """The registry's own metadata: revision stamp, active chunk collection, pending write, used flag."""
        metadata = dict(self.client.get_collection(self.docs_name).metadata or {})
        metadata.pop("hnsw:space", None)
        return metadata

    def _update_registry_meta(self, **changes: Any) -> None:
        """Change some keys of the registry's metadata in one write (Chroma's modify replaces it whole).

        Only the write-lock holder calls this, so reading and writing back loses nobody's change.
        """
        metadata = {**self._registry_meta(), **changes}
        self.registry.modify(metadata=metadata)
        if "revision" in changes:
            self._connection.note(self.docs_name, str(metadata["revision"]))
