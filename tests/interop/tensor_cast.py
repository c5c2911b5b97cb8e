#!/usr/bin/python3
"""Converts raw elements with torch, for tests/cast_test.ts.

Usage: /usr/bin/python3 tests/interop/tensor_cast.py DIR
For every DIR/<src>.bin (little-endian elements of dtype <src>) writes
DIR/<src>-<dst>.bin, the same elements after `tensor.to(<dst>)` as one
tensor, for each of the ten classic dtypes. Prints "ok".
"""

import os
import sys

import torch

DTYPES = ["float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8",
          "bool"]
RAW = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}

folder = sys.argv[1]
for src in DTYPES:
    path = os.path.join(folder, f"{src}.bin")
    if not os.path.exists(path):
        continue
    dtype = getattr(torch, src)
    width = torch.empty(0, dtype=dtype).element_size()
    with open(path, "rb") as f:
        data = bytearray(f.read())
    tensor = torch.frombuffer(data, dtype=RAW[width]).clone().view(dtype)
    for dst in DTYPES:
        out = tensor.to(getattr(torch, dst))
        raw = out.view(RAW[out.element_size()]) if out.dtype != torch.bool else out.view(torch.uint8)
        with open(os.path.join(folder, f"{src}-{dst}.bin"), "wb") as f:
            f.write(raw.numpy().tobytes())
print("ok")
