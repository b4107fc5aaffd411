"""The data the scenarios move, made once per run under the run's temporary directory.

Random files and trees (incompressible, as most transfers measured are), a tree of
mixed small files with a fixed seed, a copy of this machine's Python standard library
sources (a real compressible corpus), and a tree of already-compressed files.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import shutil
import sysconfig

TREE_DIRECTORIES = 20
TREE_FILES_PER_DIRECTORY = 100
TREE_FILE_BYTES = 4096

#: The tree of mixed small files: sizes log-uniform between these, in this many
#: directories, from this seed.
MIXED_MIN_BYTES = 100
MIXED_MAX_BYTES = 64 * 1024
MIXED_FILES_PER_DIRECTORY = 100
MIXED_SEED = 20_000

#: Files of the standard library that are text and worth compressing, by their ending.
CORPUS_SUFFIXES = frozenset(
    {".py", ".txt", ".decTest", ".rst", ".html", ".c", ".h", ".xml", ".json", ".toml", ".cfg"}
)
#: Directories of the standard library left out: bytecode and installed packages.
CORPUS_SKIPPED = frozenset({"__pycache__", "site-packages", "dist-packages"})

#: The tree of compressed data: files of random bytes under names that say they are
#: compressed (.gz, .jpg), and under one that does not (.dat: only the first chunk tells).
COMPRESSED_SUFFIXES = (".gz", ".jpg", ".dat")
COMPRESSED_FILES_PER_SUFFIX = 40
COMPRESSED_FILE_BYTES = 1 << 20


def write_random_file(path: str, size: int) -> None:
    block = 1 << 20
    with open(path, "wb") as output:
        remaining = size
        while remaining:
            chunk = os.urandom(min(block, remaining))
            output.write(chunk)
            remaining -= len(chunk)


def make_tree(path: str) -> None:
    """2,000 files of 4 KiB of random bytes in 20 directories."""
    for directory in range(TREE_DIRECTORIES):
        folder = os.path.join(path, f"dir-{directory:02d}")
        os.makedirs(folder)
        for index in range(TREE_FILES_PER_DIRECTORY):
            with open(os.path.join(folder, f"file-{index:03d}.bin"), "wb") as output:
                output.write(os.urandom(TREE_FILE_BYTES))


def mixed_size(generator: random.Random) -> int:
    """A size between MIXED_MIN_BYTES and MIXED_MAX_BYTES, uniform in its logarithm."""
    low, high = math.log(MIXED_MIN_BYTES), math.log(MIXED_MAX_BYTES)
    return int(math.exp(generator.uniform(low, high)))


def make_mixed_tree(path: str, files: int) -> int:
    """``files`` files of random bytes, sized as :func:`mixed_size` says (fixed seed), 100
    to a directory; the total of their sizes."""
    generator = random.Random(MIXED_SEED)
    total = 0
    for index in range(files):
        directory, position = divmod(index, MIXED_FILES_PER_DIRECTORY)
        folder = os.path.join(path, f"dir-{directory:04d}")
        if position == 0:
            os.makedirs(folder)
        size = mixed_size(generator)
        with open(os.path.join(folder, f"file-{position:03d}.bin"), "wb") as output:
            output.write(generator.randbytes(size))
        total += size
    return total


def _is_text(path: str) -> bool:
    with open(path, "rb") as source:
        return b"\0" not in source.read(1 << 16)


def stdlib_directory() -> str:
    """The ``Lib`` directory of the Python running the benchmark."""
    return sysconfig.get_paths()["stdlib"]


def copy_stdlib_corpus(destination: str) -> tuple[int, int]:
    """Copy the text sources of this Python's standard library (see CORPUS_SUFFIXES,
    without CORPUS_SKIPPED nor files with NUL bytes); the files and bytes copied."""
    source = stdlib_directory()
    files = size = 0
    for folder, directories, names in os.walk(source):
        directories[:] = sorted(name for name in directories if name not in CORPUS_SKIPPED)
        relative = os.path.relpath(folder, source)
        for name in sorted(names):
            path = os.path.join(folder, name)
            if os.path.splitext(name)[1] not in CORPUS_SUFFIXES or os.path.islink(path):
                continue
            if not _is_text(path):
                continue
            target = os.path.join(destination, relative)
            os.makedirs(target, exist_ok=True)
            shutil.copyfile(path, os.path.join(target, name))
            files += 1
            size += os.path.getsize(path)
    return files, size


def make_compressed_tree(path: str) -> tuple[int, int]:
    """Random files named as compressed data (.gz, .jpg) and not (.dat); files, bytes."""
    os.makedirs(path)
    files = 0
    for suffix in COMPRESSED_SUFFIXES:
        for index in range(COMPRESSED_FILES_PER_SUFFIX):
            write_random_file(
                os.path.join(path, f"file-{index:03d}{suffix}"), COMPRESSED_FILE_BYTES
            )
            files += 1
    return files, files * COMPRESSED_FILE_BYTES


def tree_files(path: str) -> tuple[int, int]:
    """Files under a directory and the total of their sizes."""
    files = size = 0
    for folder, _, names in os.walk(path):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(folder, name))
    return files, size


def link_tree(source: str, destination: str) -> None:
    """A copy of a tree made of hard links: the same data, at no cost."""
    for folder, _, files in os.walk(source):
        target = os.path.join(destination, os.path.relpath(folder, source))
        os.makedirs(target, exist_ok=True)
        for name in files:
            os.link(os.path.join(folder, name), os.path.join(target, name))


def check_file(path: str, size: int) -> None:
    actual = os.path.getsize(path)
    if actual != size:
        raise RuntimeError(f"{os.path.basename(path)} arrived with {actual} bytes, not {size}")


def check_tree(path: str, expected: int = TREE_DIRECTORIES * TREE_FILES_PER_DIRECTORY) -> None:
    files = 0
    for _, _, names in os.walk(path):
        files += len(names)
    if files != expected:
        raise RuntimeError(f"the tree arrived with {files} files, not {expected}")


def remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
