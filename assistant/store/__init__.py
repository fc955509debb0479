"""Storage in Chroma, embedded (a folder) or a server, split by concern.

- ``connection``: the shared client, reopened when another process wrote to an embedded folder;
- ``records``: chunk and registry record shapes, ids, paged reads;
- ``identity``: the embedding model a chunk collection was built with;
- ``revisions``: the stamp that tells readers something changed;
- ``journal``: pending-write marks and crash repair;
- ``reindex``: blue/green rebuild of the chunk collection;
- ``store``: the Store that combines them, with the document reads and writes.

Several processes on one embedded folder are supported: writes are serialised by a file lock and
each process reopens its client when the revision stamp shows another's write (docs/retrieval.md,
"Several processes"). A Chroma server is the choice when many machines, or many busy writers, share
one store.
"""

from assistant.store.connection import make_client
from assistant.store.records import chunk_id, doc_id_of, passage_from
from assistant.store.revisions import epoch_of
from assistant.store.store import Store, require_writable

__all__ = ["Store", "chunk_id", "doc_id_of", "epoch_of", "make_client", "passage_from", "require_writable"]
