#!/usr/bin/python3
"""Times CPython's C pickle codec on a torch data.pkl, for bench/codec.ts.

Usage: /usr/bin/python3 bench/_codec_peer.py FILE RUNS

Decoding resolves storages and tensors to small Python objects instead of
torch's (no tensor is allocated), the cheapest a Python loader can do;
numpy arrays are numpy's own. Encoding uses a persistent_id method and a
reducer for tensors, as torch.save's pickler does. Prints
{"decode": [seconds...], "encode": [seconds...]}: one warm-up of each,
then RUNS timed runs.
"""

import io
import json
import pickle
import sys
import time

import torch._utils


class Storage:
    __slots__ = ("cls", "key", "location", "numel")

    def __init__(self, cls, key, location, numel):
        self.cls, self.key, self.location, self.numel = cls, key, location, numel


class Tensor:
    __slots__ = ("args",)

    def __init__(self, *args):
        self.args = args


class Loader(pickle.Unpickler):
    def __init__(self, file):
        super().__init__(file)
        self.storages = {}

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return Tensor
        return super().find_class(module, name)

    def persistent_load(self, pid):
        storage = self.storages.get(pid[2])
        if storage is None:
            storage = self.storages[pid[2]] = Storage(pid[1], pid[2], pid[3], pid[4])
        return storage


class Saver(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, obj.location, obj.numel)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            return (torch._utils._rebuild_tensor_v2, obj.args)
        return NotImplemented


def timed(body, runs):
    body()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        seconds.append(time.perf_counter() - start)
    return seconds


def main():
    data = open(sys.argv[1], "rb").read()
    runs = int(sys.argv[2])
    value = Loader(io.BytesIO(data)).load()
    decode = timed(lambda: Loader(io.BytesIO(data)).load(), runs)
    encode = timed(lambda: Saver(io.BytesIO(), protocol=2).dump(value), runs)
    print(json.dumps({"decode": decode, "encode": encode}))


main()
