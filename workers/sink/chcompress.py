"""Compression on the ClickHouse HTTP interface, both kinds clients use.

- HTTP content encoding (``Accept-Encoding``, with ``enable_http_compression``, on by default):
  gzip and deflate always, lz4 (clickhouse-connect's first choice), zstd and br when their
  packages are installed. Request bodies in any of them are decoded.
- ClickHouse's own block format (``compress=1`` / ``decompress=1``, the JDBC driver's default):
  [CityHash128 of the block][0x82][compressed size + 9][size][LZ4 block], little-endian.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator

import lz4.block
import lz4.frame

LZ4_METHOD, NONE_METHOD, ZSTD_METHOD = 0x82, 0x02, 0x90
BLOCK = 1 << 20  # ClickHouse's max_compress_block_size


class BadEncoding(ValueError):
    """A body that does not decode: ClickHouse answers CANNOT_DECOMPRESS (271)."""


def _optional(name: str):
    try:
        return __import__(name)
    except ImportError:
        return None


zstandard, brotli = _optional("zstandard"), _optional("brotli")


def _encoders(level: int) -> dict[str, Callable[[], object]]:
    found = {
        "gzip": lambda: zlib.compressobj(level, zlib.DEFLATED, 31),
        "deflate": lambda: zlib.compressobj(level, zlib.DEFLATED, 15),
        "lz4": lz4.frame.LZ4FrameCompressor,
    }
    if zstandard is not None:
        found["zstd"] = lambda: zstandard.ZstdCompressor(level=level).compressobj()
    if brotli is not None:
        found["br"] = lambda: brotli.Compressor(quality=min(level, 11))
    return found


def choose_encoding(accept: str | None) -> str | None:
    """The first encoding the client accepts that this side can write."""
    known = _encoders(1)
    for part in (accept or "").split(","):
        name = part.split(";")[0].strip().lower()
        if name in known and "q=0" not in part.replace(" ", "").split(";")[1:]:
            return name
    return None


def encode_stream(chunks: Iterator[bytes], encoding: str, level: int = 3) -> Iterator[bytes]:
    enc = _encoders(level)[encoding]()
    if encoding == "lz4":
        yield enc.begin()
        for chunk in chunks:
            if out := enc.compress(chunk):
                yield out
        yield enc.flush()
        return
    for chunk in chunks:
        if out := enc.compress(chunk):
            yield out
    yield enc.finish() if encoding == "br" else enc.flush()


def decode_body(data: bytes, encoding: str | None) -> bytes:
    name = (encoding or "identity").strip().lower()
    try:
        if name in ("identity", ""):
            return data
        if name in ("gzip", "x-gzip"):
            return zlib.decompress(data, 47)
        if name == "deflate":
            return zlib.decompress(data)
        if name == "lz4":
            return lz4.frame.decompress(data)
        if name == "zstd" and zstandard is not None:
            return zstandard.ZstdDecompressor().decompressobj().decompress(data)
        if name == "br" and brotli is not None:
            return brotli.decompress(data)
    except Exception as exc:  # noqa: BLE001 - each codec has its own error type
        raise BadEncoding(f"cannot decode the {name} request body: {exc}") from None
    raise BadEncoding(f"unknown Content-Encoding {name!r}")


def _checksum(block: bytes) -> bytes:
    from clickhouse_cityhash.cityhash import CityHash128

    h = CityHash128(block)  # ClickHouse's (first, second) pair as first << 64 | second
    return struct.pack("<QQ", h >> 64, h & 0xFFFF_FFFF_FFFF_FFFF)


def native_blocks(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Bytes in ClickHouse's compressed block format, one block per 1 MiB of input."""
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= BLOCK:
            yield _native_block(bytes(buf[:BLOCK]))
            del buf[:BLOCK]
    if buf:
        yield _native_block(bytes(buf))


def _native_block(raw: bytes) -> bytes:
    data = lz4.block.compress(raw, store_size=False)
    block = struct.pack("<BII", LZ4_METHOD, len(data) + 9, len(raw)) + data
    return _checksum(block) + block


def read_native_blocks(data: bytes) -> bytes:
    """A request body sent with decompress=1."""
    out, pos = bytearray(), 0
    while pos < len(data):
        if len(data) - pos < 25:
            raise BadEncoding("truncated compressed block header")
        checksum, (method, size, raw_size) = data[pos : pos + 16], struct.unpack_from("<BII", data, pos + 16)
        block = data[pos + 16 : pos + 16 + size]
        if len(block) != size or _checksum(block) != checksum:
            raise BadEncoding("compressed block checksum does not match")
        payload = block[9:]
        if method == LZ4_METHOD:
            out += lz4.block.decompress(payload, uncompressed_size=raw_size)
        elif method == NONE_METHOD:
            out += payload
        elif method == ZSTD_METHOD and zstandard is not None:
            out += zstandard.ZstdDecompressor().decompress(payload, max_output_size=raw_size)
        else:
            raise BadEncoding(f"unknown compression method 0x{method:02x}")
        pos += 16 + size
    return bytes(out)
