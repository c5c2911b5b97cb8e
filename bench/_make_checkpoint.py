#!/usr/bin/python3
"""Writes a Lightning-shaped checkpoint with torch.save, for bench/bench.ts.

Usage: /usr/bin/python3 bench/_make_checkpoint.py OUT PARAMS TOTAL_BYTES

A state_dict of PARAMS float32 parameters plus Adam state (exp_avg,
exp_avg_sq) for each: 3 * PARAMS tensors holding TOTAL_BYTES in all. The
sizes follow the same pattern at every total, so two files differ only in
tensor bytes, not in the structure of data.pkl.
"""

import collections
import sys

import torch


def sizes(params, total_bytes):
    # Weights, biases and norms in a repeating pattern of relative sizes.
    pattern = [64, 1, 1, 16, 1, 32, 1, 8]
    weights = [pattern[i % len(pattern)] for i in range(params)]
    unit = total_bytes / (3 * 4 * sum(weights))
    return [max(1, int(w * unit)) for w in weights]


def main():
    out, params, total = sys.argv[1], int(sys.argv[2]), int(float(sys.argv[3]))
    state_dict = collections.OrderedDict()
    state = {}
    for i, numel in enumerate(sizes(params, total)):
        name = f"model.processor.proc.{i // 8}.blocks.{i % 8}.mlp.weight"
        state_dict[name] = torch.full((numel,), float(i % 7), dtype=torch.float32)
        state[i] = {
            "step": torch.tensor(1200.0),
            "exp_avg": torch.full((numel,), 0.5, dtype=torch.float32),
            "exp_avg_sq": torch.full((numel,), 0.25, dtype=torch.float32),
        }
    checkpoint = {
        "epoch": 3,
        "global_step": 1200,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": state_dict,
        "optimizer_states": [
            {
                "state": state,
                "param_groups": [
                    {"lr": 6.25e-4, "betas": (0.9, 0.95), "eps": 1e-8, "params": list(range(params))}
                ],
            }
        ],
        "lr_schedulers": [],
        "hyper_parameters": {"config": {"training": {"max_epochs": 10, "lr": 6.25e-4}}},
    }
    torch.save(checkpoint, out)


if __name__ == "__main__":
    main()
