#!/usr/bin/python3
"""Writes an anemoi-shaped training checkpoint with torch.save, for bench/bench.ts.

Usage: /usr/bin/python3 bench/_make_checkpoint.py OUT PARAMS TOTAL_BYTES

Everything but the weights comes from tests/fixtures/example_training.ckpt
(its config, metadata and small state_dict), with an empty migration list so
all the shipped migrations are pending. The state_dict grows to PARAMS
float32 parameters, the new ones named as encoder, processor and decoder
layers that the migrations rename, and every parameter has Adam state
(step, exp_avg, exp_avg_sq): 4 * PARAMS tensors plus the template's graph,
TOTAL_BYTES in all. The sizes follow the same pattern at every total, so two
files differ only in tensor bytes, not in the structure of data.pkl.
"""

import os
import sys

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures", "stubs"))
TEMPLATE = os.path.join(ROOT, "tests", "fixtures", "example_training.ckpt")


def sizes(count, total_bytes):
    # Weights, biases and norms in a repeating pattern of relative sizes.
    pattern = [64, 1, 1, 16, 1, 32, 1, 8]
    weights = [pattern[i % len(pattern)] for i in range(count)]
    unit = total_bytes / (3 * 4 * sum(weights))
    return [max(1, int(w * unit)) for w in weights]


def name(i):
    """Layers the migrations move: mappers' MLPs and chunked processor blocks."""
    kind = i % 3
    if kind == 0:
        return f"model.model.encoder.proc.node_dst_mlp.{i}.weight"
    if kind == 1:
        return f"model.model.processor.proc.{(i // 3) % 2}.blocks.{(i // 6) % 2}.node_dst_mlp.{i}.weight"
    return f"model.model.decoder.proc.node_src_mlp.{i}.weight"


def main():
    out, params, total = sys.argv[1], int(sys.argv[2]), int(float(sys.argv[3]))
    checkpoint = torch.load(TEMPLATE, weights_only=False)
    state_dict = checkpoint["state_dict"]
    new = params - len(state_dict)
    for i, numel in enumerate(sizes(new, total)):
        state_dict[name(i)] = torch.full((numel,), float(i % 7), dtype=torch.float32)
    state = {}
    for i, tensor in enumerate(state_dict.values()):
        state[i] = {
            "step": torch.tensor(1200.0),
            "exp_avg": torch.full(tensor.shape, 0.5, dtype=tensor.dtype),
            "exp_avg_sq": torch.full(tensor.shape, 0.25, dtype=tensor.dtype),
        }
    optimizer = checkpoint["optimizer_states"][0]
    optimizer["state"] = state
    optimizer["param_groups"][0]["params"] = list(range(len(state_dict)))
    checkpoint["migrations"] = []
    torch.save(checkpoint, out)


if __name__ == "__main__":
    main()
