#!/usr/bin/python3
"""Applies tensor ops with torch, for tests/tensor_views_test.ts.

Usage: /usr/bin/python3 tests/interop/tensor_views.py CASES.json
CASES.json is a list of {"size", "stride", "offset", "dtype", "op", "args"},
each a view of torch.arange(400.).to(dtype) and an op named as in
tests/fixtures/tensor_views.json.
Prints a JSON list: per case {"out": [{size, stride, offset, view, self,
data}]} (`data`: hex of a copy's whole new storage, null for views) or
{"error": "RuntimeError: ..."}.
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from make_tensor_vectors import apply  # noqa: E402

RAW = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}

results = []
for case in json.load(open(sys.argv[1])):
    base = torch.arange(400, dtype=torch.float64).to(getattr(torch, case.get("dtype", "float32")))
    t = base.as_strided(case["size"], case["stride"], case["offset"])
    try:
        result = apply(t, case["op"], case["args"])
        outs = list(result) if isinstance(result, (tuple, list)) else [result]
        rows = []
        for o in outs:
            view = o.storage().data_ptr() == base.storage().data_ptr()
            data = None
            if not view:
                whole = o.as_strided((o.storage().size(),), (1,), 0)
                raw = whole.view(torch.uint8) if o.dtype == torch.bool else whole
                if o.element_size() in RAW and o.dtype != torch.bool:
                    raw = whole.view(RAW[o.element_size()])
                elif o.dtype.is_complex:
                    raw = torch.view_as_real(whole).contiguous().view(torch.uint8)
                data = raw.numpy().tobytes().hex()
            rows.append({"size": list(o.shape), "stride": list(o.stride()),
                         "offset": o.storage_offset(), "view": view, "self": o is t,
                         "data": data})
        results.append({"out": rows})
    except Exception as e:  # noqa: BLE001 (torch's error is the result)
        results.append({"error": f"{type(e).__name__}: {str(e).splitlines()[0]}"})
print(json.dumps(results))
