"""The pending-write journal: a crashed writer's half-done write is finished or undone by the next one.

Every write records what it is doing in the registry's metadata before it starts and clears the
mark when it ends; whoever takes the write lock next and finds a mark repairs exactly that write.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

from assistant.store.connection import uses_chroma
from assistant.store.records import doc_id_of, read_pages
from assistant.store.revisions import pending_mark

log = logging.getLogger(__name__)


class Journal:
    """The Store's pending-write marks and crash recovery (mixed into Store)."""

    def _set_pending(self, **mark: Any) -> None:
        """Record the write under way (nothing: none), so the next writer can repair it if this process dies.

        Marks: ``add`` (a document being written) with ``drop`` (the versions it replaces); ``drop``
        alone (documents being removed); ``rebuild`` (a reindex's new collection, before its switch);
        ``switched`` (the collection a finished switch retires).
        """
        self._update_registry_meta(pending=pending_mark(**mark))

    @uses_chroma
    def _pending(self) -> dict[str, Any]:
        raw = str(self._registry_meta().get("pending") or "")
        return json.loads(raw) if raw.startswith("{") else {}

    @uses_chroma
    def recover(self) -> None:
        """Finish or undo the write a dead process left pending (called with the write lock held).

        A document being added stays if it was registered (the versions it replaces are then
        dropped) and its chunks go if it was not; documents being removed are removed; a reindex
        is undone before its switch and finished after it. The revision moves on afterwards, so
        every reader re-reads what changed.
        """
        mark = self._pending()
        if not mark:
            return
        added = mark.get("add")
        if "rebuild" in mark:
            self._drop_collection(str(mark["rebuild"]))
        elif "switched" in mark:
            counts = Counter(doc_id_of(i) for page in read_pages(self.collection, []) for i in page["ids"])
            self._retire(str(mark["switched"]), counts)
        elif added and not self.registry.get(ids=[added], include=[])["ids"]:
            self.delete_chunks(added)  # never committed: its chunks are debris
        else:
            for doc_id in mark.get("drop", []):
                self._drop(doc_id)
        log.warning("repaired a write interrupted by the end of its process: %s", mark)
        self._set_pending()
        self._bump_revision()
