"""Named-tensor files shared by the C++ tests and the PyTorch reference scripts.

Format (little-endian): magic b"ALPHATNS", version u32 (=1), count u32, then per tensor:
name length u32, name (utf-8), dtype u8 (0 = f32, 1 = i32), ndim u32, dims i64 x ndim, data.
tests/gpt/tensor_file.cpp reads and writes the same format.
"""
import struct

import numpy as np

MAGIC = b"ALPHATNS"
VERSION = 1
DTYPES = {0: np.float32, 1: np.int32}


def read(path):
    tensors = {}
    with open(path, "rb") as f:
        if f.read(8) != MAGIC:
            raise ValueError(f"{path}: not a tensor file")
        version, count = struct.unpack("<II", f.read(8))
        if version != VERSION:
            raise ValueError(f"{path}: version {version}, expected {VERSION}")
        for _ in range(count):
            (name_len,) = struct.unpack("<I", f.read(4))
            name = f.read(name_len).decode()
            dtype, ndim = struct.unpack("<BI", f.read(5))
            dims = struct.unpack(f"<{ndim}q", f.read(8 * ndim))
            n = int(np.prod(dims)) if ndim else 1
            data = np.frombuffer(f.read(4 * n), dtype=DTYPES[dtype]).reshape(dims)
            tensors[name] = data.copy()
    return tensors


def write(path, tensors):
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<II", VERSION, len(tensors)))
        for name, array in tensors.items():
            array = np.ascontiguousarray(array)
            code = 1 if array.dtype == np.int32 else 0
            array = array.astype(DTYPES[code])
            encoded = name.encode()
            f.write(struct.pack("<I", len(encoded)) + encoded)
            f.write(struct.pack("<BI", code, array.ndim))
            f.write(struct.pack(f"<{array.ndim}q", *array.shape))
            f.write(array.tobytes())
