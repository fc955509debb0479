"""A user's correction of a stored document's date, kind, issuer or title, written to the store.

The rules that read and check those values are in metadata.py; this module writes a correction:
validated before anything is written (a bad date or an unknown kind changes nothing), then, under
the store's write lock, the registry entry and every chunk's metadata are rewritten in place
(Store.rewrite_document), the chunks re-embedded when the title they are embedded under changed.
The correction is kept in the document's metadata, so re-indexing keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping

from assistant.documents import StoredDocument
from assistant.ingest import embed_chunks
from assistant.locking import Waiting
from assistant.metadata import corrected
from assistant.settings import Settings
from assistant.store import Store


def correct_document(store: Store, settings: Settings, doc_id: str, changes: Mapping[str, str | None], *,
                     waiting: Waiting | None = None) -> StoredDocument:
    """Apply ``changes`` (field → value, or None to drop an earlier correction) to a stored document.

    Raises UnknownDocument for an id the store does not hold and InvalidMetadata for a value that
    cannot be read, both before the write lock is taken.
    """
    corrected(store.load(doc_id), **changes)  # checks every value before waiting for the lock
    with store.writing("correct a document", waiting):
        current = store.load(doc_id)  # as it is now: another process may have changed it meanwhile
        new = corrected(current, **changes)
        if new == current:
            return store.get(doc_id)
        chunks, vectors = store.stored_chunks(doc_id, new.title)
        if new.title != current.title and settings.index_context:
            vectors = embed_chunks(store, settings, new, chunks)  # the title is embedded with every chunk
        return store.rewrite_document(doc_id, new, chunks, vectors)
