#!/usr/bin/python3
"""Checks configs ckptkit edited against the same edits done by omegaconf itself.

Usage:
  config_roundtrip.py each EDITS.json CASES.ckpt OURS.ckpt
      EDITS.json: [[case, edit], ...]; OURS.ckpt's root is {"results": [...]},
      the i-th config being ckptkit's edit i of a fresh copy of CASES[case].
  config_roundtrip.py sequence EDITS.json ORIGINAL.ckpt OURS.ckpt
      EDITS.json: [[edit, outcome], ...] applied in order to ORIGINAL's
      hyper_parameters.config; outcome is "ok" or the omegaconf error class
      ckptkit raised (the edit then changes nothing). OURS is ckptkit's result.
      A value {"result": i} is what edit i returned (a popped node).

Edits are omegaconf_edits.apply's. Both sides are loaded with torch.load and
compared with omegaconf_edits.dump (classes, state and metadata fields in
order, values with their types, parents, flags); OmegaConf.to_container
must agree too. Prints "ok N" or the differences, exiting 1.
"""

import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures", "stubs"))
sys.path.insert(0, HERE)

import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

import omegaconf_edits as edits  # noqa: E402


def first_difference(a, b, path="$"):
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{path}: keys {list(a)} != {list(b)}"
        for key in a:
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def compare(label, expected, ours):
    difference = first_difference(edits.dump(expected), edits.dump(ours))
    # repr, not ==: nan equals itself there.
    if difference is None and repr(OmegaConf.to_container(expected)) != repr(
        OmegaConf.to_container(ours)
    ):
        difference = "to_container differs"
    return None if difference is None else f"{label}: omegaconf vs ckptkit at {difference}"


def each(edit_list, cases, ours):
    results = ours["results"]
    assert len(results) == len(edit_list), (len(results), len(edit_list))
    problems = []
    for i, ((case, edit), result) in enumerate(zip(edit_list, results)):
        cfg = copy.deepcopy(cases[case])
        edits.apply(cfg, edit)
        problem = compare(f"#{i} {case} {json.dumps(edit)}", cfg, result)
        if problem:
            problems.append(problem)
    return problems


def sequence(edit_list, original, ours):
    cfg = original["hyper_parameters"]["config"]
    problems = []
    results = []
    for i, (edit, outcome) in enumerate(edit_list):
        try:
            results.append(edits.apply(cfg, edit, results))
            got = "ok"
        except Exception as e:  # noqa: BLE001
            results.append(None)
            got = type(e).__name__
        if got != outcome:
            problems.append(f"#{i} {json.dumps(edit)}: omegaconf {got}, ckptkit {outcome}")
    problem = compare("after the edits", cfg, ours["hyper_parameters"]["config"])
    if problem:
        problems.append(problem)
    return problems


def main():
    mode, edits_path, original_path, ours_path = sys.argv[1:5]
    with open(edits_path) as f:
        edit_list = json.load(f)
    original = torch.load(original_path)
    ours = torch.load(ours_path)
    problems = (each if mode == "each" else sequence)(edit_list, original, ours)
    for problem in problems[:20]:
        print(problem)
    if problems:
        print(f"{len(problems)} of {len(edit_list)} differ")
        sys.exit(1)
    print("ok", len(edit_list))


if __name__ == "__main__":
    main()
