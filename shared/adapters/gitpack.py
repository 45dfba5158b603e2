"""Screen a git pack from an untrusted server before dulwich inflates it.

Object sizes are in each entry's header (and, for a delta, in the first bytes of its
inflated delta data), so an object too large to handle is refused while reading headers:
inflating is done in bounded chunks whose output is thrown away. A pack whose declared
sizes lie (more output than its header said) is refused too.
"""

from __future__ import annotations

import contextlib
import io
import os
import zlib
from typing import IO, Any

MAX_PACK_BYTES = 1024 * 1024 * 1024  # a fetched pack, as received (compressed)
MAX_OBJECT_BYTES = 16 * 1024 * 1024  # one object, inflated (deltas: the object they make)
MAX_INFLATED_BYTES = 1024 * 1024 * 1024  # all objects a pack makes, deltas resolved: what dulwich
# inflates and hashes while indexing (a 30-byte delta can make a 16 MiB object)
_CHUNK = 1024 * 1024
_OFS_DELTA, _REF_DELTA = 6, 7


class TooLarge(Exception):
    """The pack or one of its objects is over a limit (or lies about its size)."""


class CappedWriter:
    """A write callback that refuses more than `cap` bytes in all."""

    def __init__(self, sink: IO[bytes], cap: int) -> None:
        self.sink, self.cap, self.written = sink, cap, 0

    def write(self, data: bytes) -> None:
        self.written += len(data)
        if self.written > self.cap:
            raise TooLarge(f"the repository sent more than {self.cap:,} bytes (limit)")
        self.sink.write(data)


def _byte(f: IO[bytes]) -> int:
    b = f.read(1)
    if not b:
        raise TooLarge("a truncated pack")
    return b[0]


def _header(f: IO[bytes]) -> tuple[int, int]:
    """(type, size) of the pack entry at f's position; f is left at its zlib data."""
    b = _byte(f)
    kind, size, shift = (b >> 4) & 7, b & 0x0F, 4
    while b & 0x80:
        b = _byte(f)
        size |= (b & 0x7F) << shift
        shift += 7
        if shift > 70:
            raise TooLarge("a pack entry with a malformed size")
    if kind == _OFS_DELTA:
        b = _byte(f)
        while b & 0x80:
            b = _byte(f)
    elif kind == _REF_DELTA:
        f.read(20)
    return kind, size


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise TooLarge("a delta with a malformed header")
        b = data[at]
        value |= (b & 0x7F) << shift
        at += 1
        shift += 7
        if not b & 0x80:
            return value, at


def _inflate(f: IO[bytes], declared: int, is_delta: bool) -> int:
    """Inflate the zlib stream at f's position in bounded chunks (output dropped), leaving f
    just after it; the size of the object it makes (a delta's target size)."""
    z = zlib.decompressobj()
    produced = 0
    head = b""
    while not z.eof:
        data = z.unconsumed_tail or f.read(_CHUNK)
        if not data:
            raise TooLarge("a truncated pack")
        out = z.decompress(data, _CHUNK)
        produced += len(out)
        if produced > declared:
            raise TooLarge("a pack entry inflates to more than its header says")
        if is_delta and len(head) < 32:
            head += out[: 32 - len(head)]
    if z.unused_data:
        f.seek(-len(z.unused_data), os.SEEK_CUR)
    return _target_size(head) if is_delta else produced


def _target_size(delta: bytes) -> int:
    """A delta's target size: the second of the two sizes its data starts with."""
    _, at = _varint(delta, 0)
    target, _ = _varint(delta, at)
    return target


def _first_bytes(f: IO[bytes], count: int) -> bytes:
    """The first `count` inflated bytes of the zlib stream at f's position (or fewer at its end)."""
    z = zlib.decompressobj()
    head = b""
    while len(head) < count and not z.eof:
        data = z.unconsumed_tail or f.read(256)
        if not data:
            break
        head += z.decompress(data, count - len(head))
    return head


def _check(size: int) -> None:
    if size > MAX_OBJECT_BYTES:
        raise TooLarge(f"an object of {size:,} bytes is larger than {MAX_OBJECT_BYTES:,} (limit)")


def screen(pack: IO[bytes]) -> None:
    """Refuse the pack (TooLarge) if any object in it is over MAX_OBJECT_BYTES inflated."""
    pack.seek(0)
    head = pack.read(12)
    if len(head) < 12 or head[:4] != b"PACK":
        raise TooLarge("not a git pack")
    count = int.from_bytes(head[8:12], "big")
    inflated = 0
    for _ in range(count):
        kind, size = _header(pack)
        is_delta = kind in (_OFS_DELTA, _REF_DELTA)
        # a delta's own data is at most its target plus its copy and insert opcodes
        _check(size if not is_delta else max(0, size - size // 64 - 1024))
        made = _inflate(pack, size, is_delta)
        _check(made)
        inflated += max(size, made)
        if inflated > MAX_INFLATED_BYTES:
            raise TooLarge(f"the pack makes more than {MAX_INFLATED_BYTES:,} bytes of objects (limit)")


def _view(data: Any, offset: int) -> IO[bytes]:
    """The pack's bytes from offset: dulwich's own mapping when it has one (no open, no copy
    beyond a header's worth), else the file."""
    buffer = getattr(data, "_buffer", None)
    if callable(buffer):
        with contextlib.suppress(ValueError):
            return io.BytesIO(bytes(buffer()[offset : offset + 4096]))
    with open(data.path, "rb") as f:
        f.seek(offset)
        return io.BytesIO(f.read(4096))


def object_size(repo: Any, sha: bytes) -> int:
    """An object's inflated size from its header, without inflating it (packed or loose)."""
    store = repo.object_store
    for pack in store.packs:
        try:
            offset = pack.index.object_offset(sha if len(sha) == 20 else bytes.fromhex(sha.decode()))
        except KeyError:
            continue
        f = _view(pack.data, offset)
        kind, size = _header(f)
        return _target_size(_first_bytes(f, 20)) if kind in (_OFS_DELTA, _REF_DELTA) else size
    path = os.path.join(store.path, sha[:2].decode(), sha[2:].decode())
    if os.path.exists(path):
        with open(path, "rb") as f:
            head = _first_bytes(f, 64)  # "blob 1234\0..."
        try:
            return int(head.split(b"\0", 1)[0].split(b" ", 1)[1])
        except (IndexError, ValueError):
            raise TooLarge("a malformed loose object") from None
    return len(repo[sha].data)
