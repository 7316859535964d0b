#!/usr/bin/python3
"""PyTorch reference for alpha's GPT: the same model (GPT-2 architecture, tied LM head), the same
initial weights and batch, read from a tensor file the C++ test writes; runs forward, backward and
AdamW steps with gradient clipping, and writes logits, loss, every gradient, and every parameter
after the steps to another tensor file. Usage: gpt_reference.py INPUT OUTPUT

Input tensors: "config" i32 [n_layer, n_head, n_embd, seq_len, vocab_size, steps],
"adamw" f32 [lr, beta1, beta2, eps, weight_decay, max_norm], "tokens" and "targets" i32 (B, T)
(-1 = ignored), and one tensor per parameter under its GPT-2 name (linear weights (out, in)).
Output: "logits" (B,T,V), "loss" (1), "grad.<name>", "step_losses" (steps), "step_norms" (steps),
"after.<name>" (parameters after all steps).
Run with Debian's /usr/bin/python3 (python3-torch), float32 on the CPU.
The GPT class is also the model of alpha bench's PyTorch peer (perf/torch_baseline.py), on any device.
"""
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import tensor_file  # noqa: E402


class Block(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.NH = NH
        self.ln_1 = nn.LayerNorm(C)
        self.attn = nn.Module()
        self.attn.c_attn = nn.Linear(C, 3 * C)
        self.attn.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.mlp = nn.Module()
        self.mlp.c_fc = nn.Linear(C, 4 * C)
        self.mlp.c_proj = nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.attn.c_attn(self.ln_1(x)).split(C, dim=2)
        # (B, T, C) -> (B, NH, T, HS): heads moved apart before attention
        q, k, v = (t.view(B, T, self.NH, C // self.NH).transpose(1, 2) for t in (q, k, v))
        if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2: the fused kernel, same math
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.NH)
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            y = F.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.attn.c_proj(y)
        h = F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh")
        return x + self.mlp.c_proj(h)


class GPT(nn.Module):
    def __init__(self, n_layer, n_head, n_embd, seq_len, vocab_size):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(seq_len, n_embd)
        self.h = nn.ModuleList(Block(n_embd, n_head) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)

    def forward(self, tokens):
        T = tokens.shape[1]
        x = self.wte(tokens) + self.wpe(torch.arange(T, device=tokens.device))
        for block in self.h:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.T  # tied LM head


def main():
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    inputs = tensor_file.read(sys.argv[1])
    n_layer, n_head, n_embd, seq_len, vocab_size, steps = (int(x) for x in inputs["config"])
    lr, beta1, beta2, eps, weight_decay, max_norm = (float(x) for x in inputs["adamw"])
    model = GPT(n_layer, n_head, n_embd, seq_len, vocab_size)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(torch.from_numpy(inputs[name]))
    tokens = torch.from_numpy(inputs["tokens"]).long()
    targets = torch.from_numpy(inputs["targets"]).long()

    def loss_of(logits):
        return F.cross_entropy(logits.view(-1, vocab_size), targets.view(-1), ignore_index=-1)

    out = {}
    logits = model(tokens)
    loss = loss_of(logits)
    loss.backward()
    out["logits"] = logits.detach().numpy()
    out["loss"] = loss.detach().reshape(1).numpy()
    for name, p in params.items():
        out["grad." + name] = p.grad.numpy().copy()

    decay = [p for p in params.values() if p.dim() >= 2]
    no_decay = [p for p in params.values() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(beta1, beta2), eps=eps)
    step_losses, step_norms = [], []
    for step in range(steps):
        if step > 0:
            optimizer.zero_grad()
            loss = loss_of(model(tokens))
            loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm if max_norm > 0 else float("inf"))
        step_losses.append(loss.item())
        step_norms.append(norm.item())
        optimizer.step()
    out["step_losses"] = torch.tensor(step_losses).numpy()
    out["step_norms"] = torch.tensor(step_norms).numpy()
    for name, p in params.items():
        out["after." + name] = p.detach().numpy().copy()
    tensor_file.write(sys.argv[2], out)


if __name__ == "__main__":
    main()
