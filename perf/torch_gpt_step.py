#!/usr/bin/python3
"""PyTorch CPU peer for alpha's training-step benchmark: the identical GPT (tests/reference's model),
batch shape and AdamW step (forward, loss, backward, clip, step), fp32, timed after warm-up; the median
of --iters steps. Tries 1 and 2 intra-op threads and reports the faster, as a fair CPU peer should
(OpenBLAS brings its own threads; 2+2 needs OMP_WAIT_POLICY=PASSIVE, set below).
Usage: torch_gpt_step.py --n_layer L --n_head H --n_embd C --seq_len T --vocab V --batch B [--iters N]
Prints one JSON line: {"ms_per_step": ..., "tokens_per_s": ..., "threads": ...}.
"""
import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from gpt_reference import GPT  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def time_steps(args, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = GPT(args.n_layer, args.n_head, args.n_embd, args.seq_len, args.vocab)
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
         {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}], lr=3e-4, betas=(0.9, 0.95))
    tokens = torch.randint(0, args.vocab, (args.batch, args.seq_len))
    targets = torch.randint(0, args.vocab, (args.batch, args.seq_len))

    def step():
        optimizer.zero_grad(set_to_none=False)
        logits = model(tokens)
        loss = F.cross_entropy(logits.view(-1, args.vocab), targets.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.iters):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    for name in ("n_layer", "n_head", "n_embd", "seq_len", "vocab", "batch"):
        p.add_argument("--" + name, type=int, required=True)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    args = p.parse_args()
    best = min((time_steps(args, threads), threads) for threads in (1, 2))
    ms, threads = best
    print(json.dumps({"ms_per_step": ms, "tokens_per_s": args.batch * args.seq_len / (ms / 1000),
                      "threads": threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
