"""Progress bars for transfers (one for the current file, one for the total) and the
summary line that ends a transfer.

Sizes and rates are in binary units and say so (KiB, MiB/s): a size divided by 1024
is never labelled MB. Bytes that a resumed transfer already had count as done, so a
resumed file's bar starts where it stopped and the total reaches 100%.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from tqdm import tqdm

#: Binary prefixes, each 1024 times the one before.
_PREFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")

#: Layout of the bars: the sizes and the rate come from human_size (format_dict).
_BAR_FORMAT = (
    "{desc}: {percentage:3.0f}%|{bar}| {done_size}/{total_size} "
    "[{elapsed}<{remaining}, {rate_text}]"
)


def human_size(size: float) -> str:
    """``size`` bytes in binary units: 512 B, 1.5 KiB, 800 MiB."""
    value = float(size)
    for prefix in _PREFIXES:
        if abs(value) < 1024 or prefix == _PREFIXES[-1]:
            if not prefix:
                return f"{int(value)} B"
            return f"{value:.1f} {prefix}B" if value < 10 else f"{value:.0f} {prefix}B"
        value /= 1024
    raise AssertionError("unreachable")


def human_rate(bytes_per_second: float | None) -> str:
    return "?/s" if bytes_per_second is None else f"{human_size(bytes_per_second)}/s"


class _Bar(tqdm):  # type: ignore[type-arg]
    """A tqdm bar whose sizes and rate are written by human_size."""

    @property
    def format_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = dict(super().format_dict)
        values["done_size"] = human_size(values["n"])
        total = values["total"]
        values["total_size"] = "?" if total is None else human_size(total)
        rate = values["rate"]
        if rate is None and values["elapsed"]:
            rate = (values["n"] - values["initial"]) / values["elapsed"]
        values["rate_text"] = human_rate(rate)
        return values

    def add_done(self, nbytes: int) -> None:
        """Count ``nbytes`` as done before this run (resumed): not in the rate."""
        self.n += nbytes
        self.last_print_n += nbytes
        self.initial += nbytes
        self.refresh()


def _bar(total: int, description: str, position: int, leave: bool) -> _Bar:
    return _Bar(
        total=total,
        desc=description,
        position=position,
        leave=leave,
        dynamic_ncols=True,
        bar_format=_BAR_FORMAT,
    )


class TransferProgress:
    """Draws per-file and total progress (bytes, rate, ETA) on standard error, and
    keeps the counts of the summary line.

    Pass :meth:`on_chunk` as the ``process_chunk`` callback of a transfer. When
    ``enabled`` is False it draws nothing, so commands call it unconditionally.
    """

    def __init__(self, total_bytes: int, enabled: bool) -> None:
        self.enabled = enabled
        self._file: _Bar | None = None
        self._total: _Bar | None = None
        self._current = ""
        self._started = time.monotonic()
        #: Files begun and bytes sent or received by this run (resumed bytes not counted).
        self.files = 0
        self.bytes_moved = 0
        if enabled:
            self._total = _bar(total_bytes, "total", 1, True)

    def on_chunk(self, chunk: bytes, remaining: int, file_size: int, file_name: str) -> None:
        # remaining counts this chunk: what came before it was done by an earlier run.
        starting = file_name != self._current or remaining == file_size or self.files == 0
        if starting:
            self.files += 1
            self._current = file_name
        self.bytes_moved += len(chunk)
        if not self.enabled:
            return
        if self._file is None or starting:
            if self._file is not None:
                self._file.close()
            self._file = _bar(file_size, file_name[-30:], 0, False)
            resumed = file_size - remaining
            if resumed > 0:
                self._file.add_done(resumed)
                if self._total is not None:
                    self._total.add_done(resumed)
        self._file.update(len(chunk))
        if self._total is not None:
            self._total.update(len(chunk))

    def skip(self, nbytes: int) -> None:
        """Take ``nbytes`` out of the total: a file that will not be transferred."""
        if self._total is not None and nbytes:
            self._total.total = max(self._total.n, (self._total.total or 0) - nbytes)
            self._total.refresh()

    def summary(self, verb: str, files: int | None = None) -> str:
        """``uploaded 3 files, 12.0 MiB in 1.2 s (10 MiB/s)``: what this run moved."""
        seconds = time.monotonic() - self._started
        count = self.files if files is None else files
        rate = self.bytes_moved / seconds if seconds > 0 else None
        return (
            f"{verb} {count} file{'' if count == 1 else 's'}, {human_size(self.bytes_moved)} "
            f"in {seconds:.1f} s ({human_rate(rate)})"
        )

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
