#!/usr/bin/env python3
"""Read a redcache entry outside Go: the header, then a JSON payload.

redcache writes a short binary header before the codec's bytes (see
docs/format.md), so a JSON entry is not JSON from its first byte. This file
is what another language needs to read one: it checks the header (magic,
format version 1 or 2, flags, CRC-32C) and returns the payload, decoded when
the codec is JSON or Raw, compressed or not. The Go test next to it
(TestPythonReadsEntries) runs it on entries that core wrote.

    redis-cli --raw GET cache:codecs.product:i1 | head -c -1 | python3 read_entry.py
    python3 read_entry.py < entry.bin

With redis-py: parse_entry(r.get("cache:codecs.product:i1")).
"""

import json
import struct
import sys
import zlib

MAGIC = 0xC5
CODECS = {1: "gob", 2: "json", 3: "raw"}
F_NEGATIVE, F_COMPRESSED, F_SOFT, F_TOMBSTONE, F_EXPIRY = 0x01, 0x02, 0x04, 0x08, 0x10
KNOWN_FLAGS = {1: 0x07, 2: 0x1F}


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _uvarint(b, i):
    x, shift = 0, 0
    while i < len(b):
        v = b[i]
        i += 1
        x |= (v & 0x7F) << shift
        if v < 0x80:
            return x, i
        shift += 7
        if shift > 63:
            break
    raise ValueError("bad varint")


def parse_entry(b):
    """Return a dict: version, flags, codec, generation, soft_expiry_ms,
    expiry_ms, negative, tombstone, payload (bytes) and value (decoded for
    JSON and Raw). Raises ValueError for bytes that are not a valid entry."""
    if len(b) < 9 or b[0] != MAGIC:
        raise ValueError("not a redcache entry")
    version, flags, codec = b[1], b[2], b[3]
    if version not in KNOWN_FLAGS:
        raise ValueError("format version %d: not known here" % version)
    if flags & ~KNOWN_FLAGS[version]:
        raise ValueError("unknown flags %#x" % flags)
    (crc,) = struct.unpack(">I", b[4:8])
    covered = b[8:] if version == 1 else b[:4] + b[8:]
    if crc32c(covered) != crc:
        raise ValueError("checksum mismatch")
    gen, i = _uvarint(b, 8)
    e = {"version": version, "flags": flags, "codec": codec, "generation": gen,
         "soft_expiry_ms": None, "expiry_ms": None,
         "negative": bool(flags & F_NEGATIVE), "tombstone": bool(flags & F_TOMBSTONE)}
    for flag, name in ((F_SOFT, "soft_expiry_ms"), (F_EXPIRY, "expiry_ms")):
        if flags & flag:
            if i + 8 > len(b):
                raise ValueError("truncated expiry")
            (e[name],) = struct.unpack(">Q", b[i:i + 8])
            i += 8
    payload = bytes(b[i:])
    e["payload"] = payload
    e["value"] = None
    if e["negative"] or e["tombstone"]:
        return e
    if codec & 0x80:  # codec.Compress: a marker byte, then as is or raw DEFLATE
        if payload[:1] == b"\x00":
            payload = payload[1:]
        elif payload[:1] == b"\x01":
            _, j = _uvarint(payload, 1)
            payload = zlib.decompress(payload[j:], -15)
        else:
            raise ValueError("unknown compression marker")
    base = CODECS.get(codec & 0x7F)
    if base == "json":
        e["value"] = json.loads(payload)
    elif base == "raw":
        e["value"] = payload
    e["payload"] = payload
    return e


if __name__ == "__main__":
    entry = parse_entry(sys.stdin.buffer.read())
    out = {k: v for k, v in entry.items() if k != "payload"}
    if isinstance(out["value"], bytes):
        out["value"] = out["value"].decode("utf-8", "replace")
    print(json.dumps(out, sort_keys=True))
