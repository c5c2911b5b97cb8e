#!/usr/bin/python3
"""Checks that two checkpoints load to the same object graph in real PyTorch.

Usage: /usr/bin/python3 tests/interop/compare.py A B
Compares describe(torch.load(A)) with describe(torch.load(B)) (see
tests/fixtures/describe.py). Storages are numbered by first meeting, so only
the sharing pattern matters, not record names. Exit 0 when equal; otherwise
print the first differing path on one line and exit 1 (2 when a file
cannot be loaded or described).
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))

import describe  # noqa: E402


def short(node):
    text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "..."


def key_label(key):
    """A readable path step for a dict entry: the key when it is a str or int."""
    if key.get("t") in ("str", "int") and "v" in key:
        return f"[{json.dumps(key['v'], ensure_ascii=False)}]"
    return None


def first_difference(a, b, path="$"):
    """Returns "path: a != b" for the first difference in pre-order, or None."""
    if type(a) is not type(b):
        return f"{path}: {short(a)} != {short(b)}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{path}: fields {list(a)} != {list(b)}"
        for field in a:
            if field == "items" and a.get("t") == "dict":
                found = dict_items_difference(a[field], b[field], path)
            else:
                found = first_difference(a[field], b[field], f"{path}.{field}")
            if found:
                return found
        return None
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        return None
    return None if a == b else f"{path}: {short(a)} != {short(b)}"


def dict_items_difference(a, b, path):
    for i, (x, y) in enumerate(zip(a, b)):
        found = first_difference(x[0], y[0], f"{path}.items[{i}].key")
        if found:
            return found
        found = first_difference(x[1], y[1], path + (key_label(x[0]) or f".items[{i}].value"))
        if found:
            return found
    if len(a) != len(b):
        return f"{path}.items: length {len(a)} != {len(b)}"
    return None


def main(argv):
    if len(argv) != 3:
        print("usage: compare.py A B", file=sys.stderr)
        return 2
    described = []
    for path in argv[1:]:
        try:
            described.append(describe.describe_file(path))
        except Exception as exc:  # noqa: BLE001 - report, do not trace back
            print(f"cannot describe {path}: {type(exc).__name__}: {exc}")
            return 2
    found = first_difference(*described)
    if found:
        print(f"differs at {found}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
