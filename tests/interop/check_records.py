#!/usr/bin/python3
"""Checks a torch.save zip checkpoint the way PyTorch 1.13 reads it.

Usage: /usr/bin/python3 tests/interop/check_records.py FILE
Opens FILE with torch._C.PyTorchFileReader (torch.load's reader), unpickles
data.pkl with torch's persistent_load protocol and checks that:
  * every storage named by a persistent id exists as data/<key>, has exactly
    numel * element_size bytes, and is always named with one dtype and size;
  * every data/ record is used by the pickle, and data.pkl has no trailing bytes;
  * every storage is stored uncompressed with its data 64-byte aligned
    (1.13's reader has no get_record_offset, so offsets come from the local
    zip headers), and all CRCs match.
Prints "ok" and exits 0, or prints one problem per line and exits 1.
"""

import io
import os
import pickle
import struct
import sys
import zipfile

import torch
from torch.serialization import StorageType

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures", "stubs"))

ALIGNMENT = 64


class Placeholder:
    """Stands in for classes that cannot be imported: only storages matter here."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


def check_pickle(reader, records, problems):
    """Unpickles data.pkl; returns {key: nbytes} of the storages it names."""
    used = {}

    def persistent_load(pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            problems.append(f"unexpected persistent id {pid!r}")
            return None
        storage_type, key, _location, numel = pid[1:]
        dtype = torch.uint8 if storage_type is torch.UntypedStorage else storage_type.dtype
        nbytes = numel * torch._utils._element_size(dtype)
        name = f"data/{key}"
        size = len(reader.get_record(name)) if name in records else None
        if key in used:
            if used[key] != (dtype, nbytes):
                problems.append(f"{name} named as {used[key]} and as {(dtype, nbytes)}")
        elif size is None:
            problems.append(f"{name} is named by the pickle but missing")
        elif size != nbytes:
            expected = f"{nbytes} ({numel} x {dtype})"
            problems.append(f"{name} has {size} bytes, pickle expects {expected}")
        used.setdefault(key, (dtype, nbytes))
        if size != nbytes:
            return torch.storage.TypedStorage(numel, dtype=dtype)  # keeps unpickling going
        # The call torch.load makes, so the real reader reads every storage.
        untyped = reader.get_storage_from_record(name, nbytes, torch.UntypedStorage)
        return torch.storage.TypedStorage(wrap_storage=untyped.storage().untyped(), dtype=dtype)

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if "Storage" in name:  # mirrors torch.serialization._load
                try:
                    return StorageType(name)
                except KeyError:
                    pass
            module = {"torch.tensor": "torch._tensor"}.get(module, module)
            try:
                return super().find_class(module, name)
            except (ImportError, AttributeError):
                return Placeholder

    data = io.BytesIO(reader.get_record("data.pkl"))
    unpickler = Unpickler(data, encoding="utf-8")
    unpickler.persistent_load = persistent_load
    try:
        unpickler.load()
    except Exception as exc:  # noqa: BLE001 - any failure is a finding
        problems.append(f"data.pkl does not unpickle: {type(exc).__name__}: {exc}")
    if data.tell() != len(data.getvalue()):
        problems.append(f"data.pkl has {len(data.getvalue()) - data.tell()} trailing bytes")
    return used


def check_layout(path, records, problems):
    """Checks offsets, compression and CRCs with the zip headers themselves."""
    with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
        infos = archive.infolist()
        roots = {info.filename.split("/", 1)[0] for info in infos}
        if len(roots) != 1:
            problems.append(f"records under several root folders: {sorted(roots)}")
        names = {info.filename.split("/", 1)[-1] for info in infos}
        if names != set(records):
            problems.append(f"zip names {sorted(names)} != reader records {sorted(records)}")
        bad = archive.testzip()
        if bad is not None:
            problems.append(f"{bad} fails its CRC check")
        for info in infos:
            name = info.filename.split("/", 1)[-1]
            if not name.startswith("data/"):
                continue
            if info.compress_type != zipfile.ZIP_STORED:
                problems.append(f"{name} is compressed (method {info.compress_type})")
            raw.seek(info.header_offset)
            header = raw.read(30)
            if header[:4] != b"PK\x03\x04":
                problems.append(f"{name} has no local header at {info.header_offset}")
                continue
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            if start % ALIGNMENT:
                problems.append(f"{name} data starts at {start}, not {ALIGNMENT}-aligned")


def check(path):
    problems = []
    try:
        reader = torch._C.PyTorchFileReader(path)
    except Exception as exc:  # noqa: BLE001
        return [f"not readable as a torch zip archive: {exc}"]
    records = reader.get_all_records()
    for required in ("data.pkl", "version"):
        if required not in records:
            problems.append(f"missing record {required}")
    if problems:
        return problems
    used = check_pickle(reader, records, problems)
    for name in records:
        if name.startswith("data/") and name[len("data/"):] not in used:
            problems.append(f"{name} is not named by the pickle")
    check_layout(path, records, problems)
    return problems


def main(argv):
    if len(argv) != 2:
        print("usage: check_records.py FILE", file=sys.stderr)
        return 2
    problems = check(argv[1])
    for problem in problems:
        print(problem)
    if not problems:
        print("ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
