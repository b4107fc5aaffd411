"""Progress bars for transfers: one for the current file and one for the total."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from tqdm import tqdm


class TransferProgress:
    """Draws per-file and total progress (bytes, rate, ETA) on standard error.

    Pass :meth:`on_chunk` as the ``process_chunk`` callback of a transfer. When
    ``enabled`` is False it does nothing, so commands call it unconditionally.
    """

    def __init__(self, total_bytes: int, enabled: bool) -> None:
        self.enabled = enabled
        self._file: tqdm[Any] | None = None
        self._total: tqdm[Any] | None = None
        self._current = ""
        if enabled:
            self._total = tqdm(
                total=total_bytes,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc="total",
                position=1,
                leave=True,
                dynamic_ncols=True,
            )

    def on_chunk(self, chunk: bytes, remaining: int, file_size: int, file_name: str) -> None:
        if not self.enabled:
            return
        if self._file is None or file_name != self._current or remaining == file_size:
            if self._file is not None:
                self._file.close()
            self._current = file_name
            self._file = tqdm(
                total=file_size,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=file_name[-30:],
                position=0,
                leave=False,
                dynamic_ncols=True,
            )
        self._file.update(len(chunk))
        if self._total is not None:
            self._total.update(len(chunk))

    def skip(self, nbytes: int) -> None:
        """Take ``nbytes`` out of the total: a file that will not be transferred."""
        if self._total is not None and nbytes:
            self._total.total = max(self._total.n, (self._total.total or 0) - nbytes)
            self._total.refresh()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._total is not None:
            self._total.close()
            self._total = None

    def __enter__(self) -> TransferProgress:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()
