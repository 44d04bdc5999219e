"""A tiny pure-python safetensors reader (json + struct + torch.frombuffer), for the bench's PyTorch peer.

Format: huggingface/safetensors README (8-byte LE header length, JSON header, raw LE data).
"""
import json
import struct

import torch

_DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I64": (torch.int64, 8)}


def read_safetensors(path):
    """Returns {name: tensor} for every F32/F64/I64 tensor in the file; each tensor owns its memory."""
    with open(path, "rb") as f:
        buf = bytearray(f.read())
    if len(buf) < 8:
        raise ValueError(f"{path}: {len(buf)} bytes, too short for a safetensors header")
    (header_len,) = struct.unpack("<Q", buf[:8])
    if header_len > len(buf) - 8:
        raise ValueError(f"{path}: header length {header_len} exceeds the file size {len(buf)}")
    header = json.loads(buf[8 : 8 + header_len].decode("utf8"))
    start = 8 + header_len
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name!r} has dtype {entry['dtype']}, which the bench does not read")
        dtype, size = _DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        shape = entry["shape"]
        count = 1
        for d in shape:
            count *= d
        if end - begin != count * size or start + end > len(buf):
            raise ValueError(f"{path}: tensor {name!r} offsets {begin}..{end} do not fit shape {shape}")
        if count == 0:
            out[name] = torch.zeros(shape, dtype=dtype)
            continue
        flat = torch.frombuffer(buf, dtype=dtype, count=count, offset=start + begin)
        out[name] = flat.reshape(shape).clone()  # clone: let the file's buffer go
    return out
