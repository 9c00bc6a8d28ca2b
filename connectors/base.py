"""Base classes for connectors: every source the hub reads is a small declarative subclass of one of these.

A connector turns what a source sends into something the pipelines can land, validate and load: whole
files become Arrow tables (:class:`FileConnector`); incremental sources (an HTTP API, a database) hand
out pages of records from a stored position (:class:`PullConnector`). Subclasses configure themselves with class
attributes, grouped under a comment naming the base class that reads them; the class docstring is the
user documentation (what the source is, what it accepts, what it does with odd input).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, ClassVar

import pyarrow as pa

from ggzy.errors import HubError


@dataclass
class ParsedFile:
    """One received file as Arrow tables: the rows exactly as received and the same rows in canonical form."""

    file_format: str  # 'xlsx' | 'csv' | 'json' | 'xml'
    encoding: str | None  # detected text encoding for csv/json ('utf-8', 'gb18030', ...); None for xlsx
    source_format: str  # 'current' | 'legacy' (the format variant, detected from headers/keys)
    original: pa.Table  # one string column per received header/key (names as received); None for empty cells
    canonical: pa.Table  # 'source_row' (int32, the row number a user sees) then the dataset's fields
    header_map: dict[str, str]  # canonical field -> the header/key as the sender wrote it (for messages)
    notes: list[str] = field(default_factory=list)  # file-level notes ('legacy format mapped', ...)

    @property
    def rows(self) -> int:
        """Number of data rows parsed (entirely empty rows are not counted)."""
        return self.canonical.num_rows


CONNECTORS: dict[str, type[Connector]] = {}  # dataset -> connector class, filled by subclassing


class Connector:
    """A source of one dataset.

    Subclass it (usually through :class:`FileConnector`) and set:

    - ``dataset``: the dataset the connector produces (a stable name, used in the batch manifest).
    - ``description``: one line saying what the data is, shown by the CLI and in reports.
    - ``source``: who sends it and how (e.g. supervising departments, via the drop folder).
    - ``fields``: the canonical field names the connector produces, in order.

    A connector produces Arrow tables and nothing else: it never writes to the warehouse. Every
    subclass that names a dataset is registered in ``CONNECTORS`` (dataset -> class).
    """

    # Connector
    dataset: ClassVar[str] = ""
    description: ClassVar[str] = ""
    source: ClassVar[str] = ""
    fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("dataset"):  # declared here, not inherited: variants do not replace it
            CONNECTORS[cls.dataset] = cls

    def __repr__(self) -> str:
        return f"<{type(self).__name__} dataset={self.dataset!r}>"


class FileConnector(Connector):
    """A source that delivers whole files (drop folder, upload endpoint, e-mail attachment).

    Subclass it and set, besides the :class:`Connector` attributes:

    - ``extensions``: file-name endings the connector accepts, mapped to a format name
      (e.g. ``{".xlsx": "xlsx", ".csv": "csv"}``). When the name does not tell, the content is sniffed.
    - ``max_header_search``: how many leading rows to search for the header row (templates often carry
      a title row above it).

    Then implement :meth:`parse`. An unreadable file raises ``HubError('unreadable_file', ...)`` naming
    the file and the reason, in Chinese and English (use :meth:`unreadable`).
    """

    # FileConnector
    extensions: ClassVar[dict[str, str]] = {}
    max_header_search: ClassVar[int] = 20

    @property
    def formats(self) -> tuple[str, ...]:
        """The file formats this connector accepts, e.g. ('xlsx', 'csv', 'json')."""
        return tuple(dict.fromkeys(self.extensions.values()))

    def parse(self, data: bytes, filename: str) -> ParsedFile:
        """Parse the bytes of one received file."""
        raise NotImplementedError

    def detect_format(self, data: bytes, filename: str) -> str:
        """The file format, from the file name's extension or else from the content."""
        suffix = PurePath(filename).suffix.lower()
        if suffix in self.extensions:
            return self.extensions[suffix]
        sniffed = sniff_format(data)
        if sniffed in self.formats:
            return sniffed
        accepted = ", ".join(sorted(self.extensions))
        raise self.unreadable(
            filename,
            f"不支持的文件类型（可接受：{accepted}）",
            f"unsupported file type (accepted: {accepted})",
        )

    @staticmethod
    def unreadable(filename: str, reason_zh: str, reason_en: str, **detail: object) -> HubError:
        """The error for a file the connector cannot read at all, naming the file and the reason."""
        return HubError(
            "unreadable_file",
            f"无法读取文件“{filename}”：{reason_zh}",
            f"cannot read file '{filename}': {reason_en}",
            status_code=422,
            detail={"file": filename, "reason": reason_en, **detail},
        )


@dataclass
class Page:
    """One page of records from an incremental source, and where the source stands after it.

    ``position`` is what to hand back to :meth:`PullConnector.pages` to continue right after this page
    (None once the source has nothing more); ``watermark`` the highest change stamp in the page (for the
    trading spec: DATA_TIMESTAMP); ``raw`` the bytes exactly as received, when the source sent bytes.
    """

    records: list[dict[str, Any]]
    position: dict[str, Any] | None
    watermark: str | None
    raw: bytes | None = None


class PullConnector(Connector):
    """A source the hub pulls from incrementally (an HTTP API, a database), one dataset at a time.

    Subclass it and set, besides the :class:`Connector` attributes:

    - ``kind``: a short name of the transport ('api', 'database'), used in the source's identity.
    - ``page_size``: how many records one page holds (one page = one warehouse transaction).

    Then implement :meth:`datasets` and :meth:`pages`. ``pages(dataset, since, position)`` yields the
    records changed after the watermark ``since`` in a stable order, page by page, starting right after
    ``position`` (None: from the start). The pipeline commits each page's rows together with the page's
    ``position``, so a run killed at any point resumes with no gap and no duplicate; the pull is complete
    when a page's position is None, and the highest ``watermark`` seen becomes the next ``since``.
    ``identity`` names the source in the watermark table (one watermark per identity and dataset).
    A source that cannot be reached raises ``HubError('source_unavailable', ...)``.
    """

    # PullConnector
    kind: ClassVar[str] = ""
    page_size: ClassVar[int] = 5000

    @property
    def identity(self) -> str:
        """Stable name of this source for the watermark table, e.g. 'api:http://centre/'."""
        raise NotImplementedError

    def datasets(self) -> list[str]:
        """The dataset codes the source offers."""
        raise NotImplementedError

    def pages(self, dataset: str, since: str | None, position: dict[str, Any] | None) -> Iterator[Page]:
        """The records of one dataset changed after `since`, page by page from `position`."""
        raise NotImplementedError

    @staticmethod
    def unavailable(source: str, reason: str, **detail: object) -> HubError:
        """The error for a source that cannot be read right now (network, credentials, database)."""
        return HubError(
            "source_unavailable",
            f"数据源“{source}”不可用：{reason}",
            f"source '{source}' is unavailable: {reason}",
            status_code=502,
            detail={"source": source, "reason": reason, **detail},
        )


def sniff_format(data: bytes) -> str | None:
    """Guess a file's format from its first bytes: 'xlsx' (zip), 'xls' (OLE2), 'json', 'xml' or 'csv'."""
    head = data[:4096]
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text[:1] in (b"[", b"{"):
        return "json"
    if text[:1] == b"<":
        return "xml"
    if not text or b"\x00" in head:
        return None
    return "csv"


UTF8_BOM = b"\xef\xbb\xbf"


def decode_text(data: bytes, *, prefix: int | None = None) -> tuple[str, str]:
    """Decode UTF-8 (with or without BOM) or GBK/GB18030 text: try UTF-8 strictly, else GB18030.

    Returns (text, encoding name: 'utf-8' or 'gb18030'); a BOM is dropped. With ``prefix`` only about
    that many leading bytes are decoded (cut at a line break so no character is split), to sniff
    the head of a large file. Raises UnicodeDecodeError when neither encoding fits.
    """
    has_bom = data.startswith(UTF8_BOM)
    if has_bom:
        data = data[len(UTF8_BOM) :]
    if prefix is not None and len(data) > prefix:
        cut = data.rfind(b"\n", 0, prefix)
        if cut < 0:  # a first line longer than the prefix: take the whole line
            cut = data.find(b"\n", prefix)
        data = data[: cut + 1] if cut >= 0 else data
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        if has_bom:
            raise
    return data.decode("gb18030"), "gb18030"
