#!/usr/bin/python3
"""PyTorch peer of `alpha bench --vs-torch`: times the identical work alpha benchmarks, in one run.

Usage: torch_baseline.py SPEC.json   (alpha writes the spec: perf/torch_peer.cpp)

The spec names the work; every list is answered in the same order:
  {"iters": N, "warmup": W, "budget_ms": B (per row, as alpha's; 0: none),
   "ceilings": {"copy_floats": n, "matmul_sizes": [n, ...]},
   "matmul":  [{"M", "N", "K", "layout": "NN" | "NT" | "TN"}, ...],
   "kernels": [{"op": "attention_forward" | ..., "dims": {"B": .., "T": .., ...}}, ...],
   "train":   [{"n_layer", "n_head", "n_embd", "seq_len", "vocab", "batch", "seq"}, ...],
   "infer":   [{"n_layer", "n_head", "n_embd", "seq_len", "vocab", "prompt", "steps"}, ...]}
The last line of stdout is one JSON object: "torch" (version), "device", "notes" (how the work was
run where it differs from alpha), "ceilings" ({"copy_gbps", "matmul_gflops"}), "matmul" and "kernels"
(timings: {"median_ms", "min_ms", "max_ms", "variant"}), "train" ({"ms_per_step", "tokens_per_s",
"variant", "variants": {variant: ms_per_step}}), "infer" ({"prefill", "decode"}: timings of one prompt
pass and of one decode step, each with "tokens_per_s").

How it times: warm-up calls first, then the median (and extremes) of `iters` calls.
- CPU: fp32, wall time per call; every entry is timed with 1 and 2 intra-op threads and the faster
  is reported (OpenBLAS brings its own threads; OMP_WAIT_POLICY=PASSIVE, set below, keeps the two
  pools from spinning against each other). Training steps are few (at most 5 timed): a step takes
  seconds on a CPU.
- CUDA: device time from CUDA events. Kernels run in fp32 with TF32 off, the arithmetic alpha does;
  the training step runs eager under bf16 autocast and, when it works, torch.compile'd, and the
  faster is the peer.
- Inference, as alpha's (perf/inference_bench.h): batch 1, fp32, no_grad, one untimed run, then per
  iteration a prefill of the prompt in one pass (its keys and values stored in a per-layer cache of
  seq_len rows) and `steps` one-token passes against the cache, each taking the argmax of the last
  logits as the next token; wall time per call up to that token on the host. Prefill is the median
  over iterations, decode the median over every step of every iteration; on the CPU each figure is
  the faster of 1 and 2 threads.
The model is tests/reference/gpt_reference.py's GPT (the correctness reference), the optimizer
torch.optim.AdamW with the bench's settings, the loss F.cross_entropy.
"""
import contextlib
import json
import math
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from gpt_reference import GPT, Arch  # noqa: E402

CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
HAS_SDPA = hasattr(F, "scaled_dot_product_attention")
CPU_THREADS = (1, 2)
MIN_BUDGET_ITERATIONS = 3  # kMinBudgetIterations in perf/kernel_timer.h


def summary(ms, variant):
    ms = sorted(ms)
    return {"median_ms": ms[len(ms) // 2], "min_ms": ms[0], "max_ms": ms[-1], "variant": variant}


def time_call_batch(fn, count):
    """Times of `count` calls in ms: CUDA events on a GPU, wall time on the CPU."""
    if not CUDA:
        ms = []
        for _ in range(count):
            start = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - start) * 1000)
        return ms
    torch.cuda.synchronize()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(count)]
    for start, end in events:
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return [start.elapsed_time(end) for start, end in events]


def time_calls(fn, iters, warmup, budget_ms=0):
    """Per-call times after `warmup` calls; with a budget, as alpha's rows: the first timed call sizes
    the rest, at least 3 (or iters) run."""
    for _ in range(warmup):
        fn()
    ms = time_call_batch(fn, 1)
    if budget_ms > 0 and ms[0] > 0:
        iters = max(min(iters, MIN_BUDGET_ITERATIONS), min(iters, int(budget_ms / ms[0])))
    return ms + time_call_batch(fn, iters - 1)


def best_timing(fn, iters, warmup, budget_ms):
    """The faster of 1 and 2 threads on the CPU; one run on CUDA."""
    if CUDA:
        return summary(time_calls(fn, iters, warmup, budget_ms), "cuda fp32")
    runs = []
    for threads in CPU_THREADS:
        torch.set_num_threads(threads)
        ms = time_calls(fn, iters, warmup, budget_ms)
        runs.append(summary(ms, f"cpu {threads} thread{'s' if threads > 1 else ''}"))
    return min(runs, key=lambda r: r["median_ms"])


def randn(*shape, grad=False):
    return torch.randn(*shape, device=DEVICE).requires_grad_(grad)


def matmul_call(M, N, K, layout):
    a = randn(K, M).t() if layout == "TN" else randn(M, K)  # c (M,N) = op(a) · op(b) on stored a, b
    b = randn(N, K).t() if layout == "NT" else randn(K, N)
    c = torch.empty(M, N, device=DEVICE)
    return lambda: torch.matmul(a, b, out=c)


def causal_attention(q, k, v, causal=True):
    """softmax(QK^T/sqrt(HS))V, causal over square q and k; causal=False: every query sees every key."""
    if HAS_SDPA:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if causal:
        T = q.shape[-2]
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool, device=q.device).tril(), float("-inf"))
    return F.softmax(scores, dim=-1) @ v


def kernel_call(op, d):
    """One call of alpha's kernel `op` at dims `d`, on the same shapes and layouts."""
    if op.startswith("attention"):
        B, T, NH, HS = d["B"], d["T"], d["NH"], d["HS"]
        qkv = randn(B, T, 3 * NH * HS, grad=op.endswith("backward"))  # (B, T, 3C), heads split as views
        q, k, v = (t.view(B, T, NH, HS).transpose(1, 2) for t in qkv.split(NH * HS, dim=2))
        if op == "attention_forward":
            return lambda: causal_attention(q, k, v)
        out = causal_attention(q, k, v)
        dout = torch.randn_like(out)
        return lambda: torch.autograd.grad(out, qkv, dout, retain_graph=True)
    if op.startswith("layernorm"):
        N, C = d["N"], d["C"]
        backward = op.endswith("backward")
        x, w, b = randn(N, C, grad=backward), randn(C, grad=backward), randn(C, grad=backward)
        if not backward:
            return lambda: F.layer_norm(x, (C,), w, b, 1e-5)
        out = F.layer_norm(x, (C,), w, b, 1e-5)
        dout = torch.randn_like(out)
        return lambda: torch.autograd.grad(out, (x, w, b), dout, retain_graph=True)
    if op.startswith("gelu"):
        x = randn(d["N"], d["D"], grad=op.endswith("backward"))
        if op == "gelu_forward":
            return lambda: F.gelu(x, approximate="tanh")
        out = F.gelu(x, approximate="tanh")
        dout = torch.randn_like(out)
        return lambda: torch.autograd.grad(out, x, dout, retain_graph=True)
    if op.startswith("swiglu"):  # x (N, 2H): the gate, then up
        x = randn(d["N"], 2 * d["H"], grad=op.endswith("backward"))

        def swiglu():
            gate, up = x.chunk(2, dim=-1)
            return F.silu(gate) * up
        if op == "swiglu_forward":
            return swiglu
        out = swiglu()
        dout = torch.randn_like(out)
        return lambda: torch.autograd.grad(out, x, dout, retain_graph=True)
    if op == "softmax_xent":  # alpha's kernel gives the losses and dlogits in one pass: forward + backward
        logits = randn(d["N"], d["V"], grad=True)
        targets = torch.randint(0, d["V"], (d["N"],), device=DEVICE)
        return lambda: torch.autograd.grad(F.cross_entropy(logits, targets), logits)
    if op == "grad_norm":
        g = randn(d["P"])
        return lambda: torch.linalg.vector_norm(g)
    if op == "adamw":
        p = torch.nn.Parameter(randn(d["P"]))
        p.grad = randn(d["P"])
        optimizer = torch.optim.AdamW([p], lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)
        return optimizer.step
    raise SystemExit(f"torch_baseline.py: unknown kernel op '{op}'")


def gpt_like_alpha(s):
    """The reference GPT with alpha's initialisation (engine/gpt/init.cpp: weights N(0, 0.02), the two
    residual projections N(0, 0.02/sqrt(2L)), biases 0, LayerNorm weights 1). torch's default init
    (N(0, 1) embeddings, tied to the head) gives logits of std ~11 whose softmax is mostly denormal,
    and denormal arithmetic made the CPU peer's LM-head matmuls ~150x slower than the same matmul on
    normal numbers: that timed the init, not the work."""
    torch.manual_seed(0)
    arch = Arch(s["arch"], s["arch_f32"]) if "arch" in s else Arch()
    model = GPT(s["n_layer"], s["n_head"], s["n_embd"], s["seq_len"], s["vocab"], arch)
    residual_std = 0.02 / math.sqrt(2 * s["n_layer"])
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.zero_()
            elif "ln_" in name:
                p.fill_(1.0)
            else:
                p.normal_(0.0, residual_std if name.endswith("c_proj.weight") else 0.02)
    return model.to(DEVICE)


def train_step_call(s, compiled):
    """One training step of the GPT: zero grad, forward, loss, backward, clip, AdamW."""
    model = gpt_like_alpha(s)
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
         {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}], lr=3e-4, betas=(0.9, 0.95))
    tokens = torch.randint(0, s["vocab"], (s["batch"], s["seq"]), device=DEVICE)
    targets = torch.randint(0, s["vocab"], (s["batch"], s["seq"]), device=DEVICE)
    forward = torch.compile(model) if compiled else model

    def step():
        optimizer.zero_grad(set_to_none=False)
        with torch.autocast("cuda", dtype=torch.bfloat16) if CUDA else contextlib.nullcontext():
            logits = forward(tokens)
            loss = F.cross_entropy(logits.float().view(-1, s["vocab"]), targets.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
    return step


def time_train(s, iters, warmup, notes):
    variants = {}
    if CUDA:
        candidates = [("cuda eager bf16 autocast", False)]
        if hasattr(torch, "compile"):
            candidates.append(("cuda torch.compile bf16 autocast", True))
        for name, compiled in candidates:
            try:
                ms = time_calls(train_step_call(s, compiled), iters, max(warmup, 3 if compiled else 1))
                variants[name] = statistics.median(ms)
            except Exception as e:  # torch.compile needs a compiler toolchain; eager is the peer then
                notes.append(f"{name} failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    else:
        iters = min(iters, 5)
        for threads in CPU_THREADS:
            torch.set_num_threads(threads)
            ms = time_calls(train_step_call(s, False), iters, 1)
            variants[f"cpu fp32 {threads} thread{'s' if threads > 1 else ''}"] = statistics.median(ms)
    variant = min(variants, key=variants.get)
    ms = variants[variant]
    return {"ms_per_step": ms, "tokens_per_s": s["batch"] * s["seq"] / (ms / 1000), "variant": variant,
            "variants": variants}


class KVDecoder:
    """The GPT's forward with a key/value cache, as engine/gpt/decoder.h: `append` runs n tokens at the
    next positions, stores their k and v per layer, and returns the logits after the last one."""

    def __init__(self, model, seq_len):
        self.model, self.position = model, 0
        C, NH = model.wte.weight.shape[1], model.h[0].NH
        # per layer, k and v: (1, NH, seq_len, HS)
        self.cache = [(torch.empty(1, NH, seq_len, C // NH, device=DEVICE),
                       torch.empty(1, NH, seq_len, C // NH, device=DEVICE)) for _ in model.h]

    def append(self, tokens):  # tokens (1, n): the prompt (at position 0) or one token
        m, p, n = self.model, self.position, tokens.shape[1]
        assert n == 1 or p == 0, "a prompt of more than one token starts the sequence (causal mask)"
        x, rope = m.embed(tokens, p)  # (1, n, C)
        C = x.shape[2]
        for block, (k_cache, v_cache) in zip(m.h, self.cache):
            q, k, v = block.qkv(x, rope)  # (1, NH, n, HS)
            k_cache[:, :, p:p + n] = k
            v_cache[:, :, p:p + n] = v
            y = causal_attention(q, k_cache[:, :, :p + n], v_cache[:, :, :p + n], causal=n > 1)
            x = x + block.attn.c_proj(y.transpose(1, 2).contiguous().view(1, n, C))
            x = x + block.mlp_forward(x)
        self.position += n
        return m.head(x[:, -1])  # (1, V): only the last row reaches the head


def time_inference(s, iters):
    """Prefill and decode times of the KV-cache decoder, per figure the faster variant."""
    torch.manual_seed(0)
    model = gpt_like_alpha(s).eval()
    prompt = torch.randint(0, s["vocab"], (1, s["prompt"]), device=DEVICE)

    def run(prefill_ms, decode_ms):  # one sequence: the prompt, then `steps` greedy tokens
        decoder = KVDecoder(model, s["seq_len"])
        start = time.perf_counter()
        token = decoder.append(prompt).argmax(dim=-1, keepdim=True)
        token.item()  # the next token on the host, as alpha's logits are
        prefill_ms.append((time.perf_counter() - start) * 1000)
        for _ in range(s["steps"]):
            start = time.perf_counter()
            token = decoder.append(token).argmax(dim=-1, keepdim=True)
            token.item()
            decode_ms.append((time.perf_counter() - start) * 1000)

    variants = [(None, "cuda fp32")] if CUDA else [(t, f"cpu {t} thread{'s' if t > 1 else ''}") for t in CPU_THREADS]
    prefill, decode = [], []
    with torch.no_grad():
        for threads, variant in variants:
            if threads:
                torch.set_num_threads(threads)
            run([], [])  # warm-up, not timed
            prefill_ms, decode_ms = [], []
            for _ in range(iters):
                run(prefill_ms, decode_ms)
            prefill.append(summary(prefill_ms, variant))
            decode.append(summary(decode_ms, variant))
    prefill, decode = (min(runs, key=lambda r: r["median_ms"]) for runs in (prefill, decode))
    prefill["tokens_per_s"] = s["prompt"] / (prefill["median_ms"] / 1000)
    decode["tokens_per_s"] = 1000 / decode["median_ms"]
    return {"prefill": prefill, "decode": decode}


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: torch_baseline.py SPEC.json")
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    iters, warmup, budget_ms = spec["iters"], spec["warmup"], spec.get("budget_ms", 0)
    notes = []
    if CUDA:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        notes.append("kernels fp32 with TF32 off; training step under bf16 autocast")
    if (spec.get("infer") or any(k["op"].startswith("attention") for k in spec.get("kernels", []))) and not HAS_SDPA:
        notes.append(f"torch {torch.__version__} has no scaled_dot_product_attention: attention is an explicit "
                     "causal softmax(QK^T/sqrt(HS))V")
    if spec.get("train") and not CUDA:
        notes.append(f"training step: median of {min(iters, 5)} steps")

    out = {"torch": torch.__version__, "notes": notes,
           "device": torch.cuda.get_device_name() if CUDA else f"cpu ({os.cpu_count()} cores)"}
    ceilings = spec.get("ceilings")
    if ceilings:
        n = ceilings["copy_floats"]
        src, dst = randn(n), torch.empty(n, device=DEVICE)
        copy = best_timing(lambda: dst.copy_(src), iters, warmup, budget_ms)
        gflops = [2.0 * m ** 3 / (best_timing(matmul_call(m, m, m, "NN"), iters, warmup, budget_ms)["median_ms"] * 1e6)
                  for m in ceilings["matmul_sizes"]]
        out["ceilings"] = {"copy_gbps": 8.0 * n / (copy["median_ms"] * 1e6), "matmul_gflops": max(gflops)}
    out["matmul"] = [best_timing(matmul_call(m["M"], m["N"], m["K"], m["layout"]), iters, warmup, budget_ms)
                     for m in spec.get("matmul", [])]
    out["kernels"] = []
    for k in spec.get("kernels", []):
        timing = best_timing(kernel_call(k["op"], k["dims"]), iters, warmup, budget_ms)
        if k["op"].startswith("attention") and not HAS_SDPA:
            timing["variant"] += " explicit attention"
        out["kernels"].append(timing)
    out["train"] = [time_train(s, iters, warmup, notes) for s in spec.get("train", [])]
    out["infer"] = [time_inference(s, iters) for s in spec.get("infer", [])]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
