"""Turn files on disk into Documents: the first step of load → chunk → embed → store → retrieve → answer.

Every later step indexes into ``Document.text``, so this package decides that text once,
per format, and never touches it again. Anything a user can hand us by mistake (a renamed
spreadsheet, a GBK text file, a truncated download, a scan too poor to read) must end in a
``LoadError`` whose reason tells them what is wrong and what to do, never in a traceback
or, worse, in silently indexed garbage.

How a file moves through the package:

- ``files``: finds the files (``discover``), checks and reads their bytes, hands them to the
  reader for their suffix, and makes the reader's result a Document (``load_document``):
  title, language, storable text and metadata.
- ``text``, ``pdf``, ``docx``, ``html``, ``image``: one reader per format, bytes in, ``Parsed`` out.
- ``ocr``: Tesseract for the PDF pages without a text layer and for images, within a page and time
  budget (``OcrOptions``), reporting each page to a progress callback.
- ``decoding``: bytes to str for the formats that are text (plain text, markdown, HTML).
- ``common``: what the readers and ``files`` share: ``Parsed``, ``Limits``, ``OcrOptions`` and the
  rules that keep text storable.
"""

from assistant.loading.common import OcrOptions, PageProgress
from assistant.loading.files import SUPPORTED_SUFFIXES, discover, load_document

__all__ = ["SUPPORTED_SUFFIXES", "OcrOptions", "PageProgress", "discover", "load_document"]
