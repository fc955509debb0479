"""Policy-text assistant: ask questions about policy documents and get answers that cite their passages.

Python API::

    from assistant import retrieve, Assistant
    passages = retrieve("By what year will the model city be built?", k=3)
"""

from assistant.documents import AddResult, Answer, Citation, Passage, StoredDocument
from assistant.service import Assistant, ask, retrieve
from assistant.settings import Settings

__all__ = ["AddResult", "Answer", "Assistant", "Citation", "Passage", "Settings", "StoredDocument", "ask", "retrieve"]
