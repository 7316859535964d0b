#!/usr/bin/python3
"""PyTorch reference for alpha's GPT: the same model (GPT-2's architecture by default, or the
options of alpha's GptConfig), the same initial weights and batch, read from a tensor file the C++
test writes; runs forward, backward and AdamW steps with gradient clipping, and writes logits, loss,
every gradient, and every parameter after the steps to another tensor file.
Usage: gpt_reference.py INPUT OUTPUT

Input tensors: "config" i32 [n_layer, n_head, n_embd, seq_len, vocab_size, steps], optionally
"arch" i32 [rope, rmsnorm, norm_params, mlp (0 gelu, 1 relu2, 2 swiglu), qk_norm, tie_embeddings,
n_kv_head] and "arch_f32" f32 [logit_softcap, rope_theta] (absent: GPT-2),
"adamw" f32 [lr, beta1, beta2, eps, weight_decay, max_norm], "tokens" and "targets" i32 (B, T)
(-1 = ignored), optionally "precision" i32 [1] (alpha's fp16 mixed precision: every linear layer,
the LM head included, multiplies its input and its weight rounded to f16, in f32; gradients pass the
rounding unchanged and stay f32, as alpha's do), and one tensor per parameter under its GPT-2 name
(linear weights (out, in)).
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

EPS = 1e-5  # every norm's, as alpha's
GELU, RELU2, SWIGLU = 0, 1, 2  # the MLPs, in the order of alpha's gpt::Mlp
HALF = False  # alpha's --precision=fp16 (set by main from the input; the bench's peer leaves it off)


def rounded(t):
    """t rounded to f16 and back in the forward; the gradient passes unchanged (alpha keeps f32
    gradients and rounds only what the matmuls read)."""
    return t + (t.half().float() - t).detach()


def linear(layer, x):
    """An nn.Linear as alpha runs it: in fp16 mode, input and weight rounded to f16, f32 arithmetic."""
    if not HALF:
        return layer(x)
    return F.linear(rounded(x), rounded(layer.weight), layer.bias)


def mlp_hidden(C, mlp):
    """The MLP's hidden width H, as alpha's GptConfig::mlp_hidden(): 4·C, or for SwiGLU Llama's 2/3 of
    4·C rounded up to a multiple of 64, 64·ceil(8C / (3·64))."""
    return 64 * -(-8 * C // (3 * 64)) if mlp == SWIGLU else 4 * C


class Arch:
    """The architecture options of alpha's GptConfig; the defaults are GPT-2's."""

    def __init__(self, flags=(0, 0, 1, 0, 0, 1, 0), floats=(0.0, 10000.0)):
        self.rope, self.rmsnorm, self.norm_params, self.qk_norm, self.tie = (bool(flags[i]) for i in (0, 1, 2, 4, 5))
        self.mlp = int(flags[3])  # GELU, RELU2 or SWIGLU
        self.n_kv_head = int(flags[6]) if len(flags) > 6 else 0  # 0: as many as query heads
        self.softcap, self.rope_theta = (float(f) for f in floats)


class Norm(nn.Module):
    """LayerNorm or RMSNorm over the last dim, with or without weight (LayerNorm's bias with it)."""

    def __init__(self, C, arch):
        super().__init__()
        self.rms = arch.rmsnorm
        if arch.norm_params:
            self.weight = nn.Parameter(torch.ones(C))
            if not self.rms:
                self.bias = nn.Parameter(torch.zeros(C))

    def forward(self, x):
        w, b = getattr(self, "weight", None), getattr(self, "bias", None)
        if not self.rms:
            return F.layer_norm(x, x.shape[-1:], w, b, EPS)
        y = x * torch.rsqrt(x.square().mean(-1, keepdim=True) + EPS)
        return y * w if w is not None else y


def rms(x):
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + EPS)


def rope_tables(T, HS, theta):
    """cos and sin (T, HS/2), computed in double and rounded to float32, as alpha's table."""
    inv_freq = theta ** (-torch.arange(0, HS // 2, dtype=torch.float64) * 2 / HS)
    angle = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    return angle.cos().float(), angle.sin().float()


def rotate(x, cos, sin):
    """Half-split rotary (GPT-NeoX / Llama convention) on (B, NH, T, HS)."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class Block(nn.Module):
    def __init__(self, C, NH, arch=Arch()):
        super().__init__()
        self.NH = NH
        self.NKV = arch.n_kv_head or NH  # key/value heads: NH / NKV query heads share each
        self.arch = arch
        self.ln_1 = Norm(C, arch)
        self.attn = nn.Module()
        self.attn.c_attn = nn.Linear(C, C + 2 * self.NKV * (C // NH))
        self.attn.c_proj = nn.Linear(C, C)
        self.ln_2 = Norm(C, arch)
        self.mlp = nn.Module()
        H = mlp_hidden(C, arch.mlp)  # SwiGLU's c_fc gives the gate (rows [0, H)) and then up ([H, 2H))
        self.mlp.c_fc = nn.Linear(C, 2 * H if arch.mlp == SWIGLU else H)
        self.mlp.c_proj = nn.Linear(H, C)

    def qkv(self, x, rope=None):
        """q, k, v as (B, NH, T, HS), after QK-norm and rotary (rope: this T's cos and sin rows); with
        grouped-query attention each key/value head is repeated for the query heads that share it."""
        B, T, C = x.shape
        HS = C // self.NH
        q, k, v = linear(self.attn.c_attn, self.ln_1(x)).split([C, self.NKV * HS, self.NKV * HS], dim=2)
        # (B, T, heads·HS) -> (B, heads, T, HS): heads moved apart before attention
        q = q.view(B, T, self.NH, HS).transpose(1, 2)
        k, v = (t.view(B, T, self.NKV, HS).transpose(1, 2) for t in (k, v))
        if self.arch.qk_norm:
            q, k = rms(q), rms(k)
        if rope is not None:
            q, k = rotate(q, *rope), rotate(k, *rope)
        if self.NKV != self.NH:
            k, v = (t.repeat_interleave(self.NH // self.NKV, dim=1) for t in (k, v))
        return q, k, v

    def mlp_forward(self, x):
        h = linear(self.mlp.c_fc, self.ln_2(x))
        if self.arch.mlp == SWIGLU:
            gate, up = h.chunk(2, dim=-1)
            h = F.silu(gate) * up
        elif self.arch.mlp == RELU2:
            h = F.relu(h).square()
        else:
            h = F.gelu(h, approximate="tanh")
        return linear(self.mlp.c_proj, h)

    def forward(self, x, rope=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x, rope)
        if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2: the fused kernel, same math
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.NH)
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            y = F.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        x = x + linear(self.attn.c_proj, y)
        return x + self.mlp_forward(x)


class GPT(nn.Module):
    def __init__(self, n_layer, n_head, n_embd, seq_len, vocab_size, arch=Arch()):
        super().__init__()
        self.arch = arch
        self.wte = nn.Embedding(vocab_size, n_embd)
        if not arch.rope:
            self.wpe = nn.Embedding(seq_len, n_embd)
        else:  # buffers, not parameters: they follow .to(device)
            cos, sin = rope_tables(seq_len, n_embd // n_head, arch.rope_theta)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.h = nn.ModuleList(Block(n_embd, n_head, arch) for _ in range(n_layer))
        self.ln_f = Norm(n_embd, arch)
        if not arch.tie:
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

    def embed(self, tokens, first=0):
        """Token (+ position) embedding of tokens at positions first.., and the rotary rows for them."""
        T = tokens.shape[1]
        x = self.wte(tokens)
        if not self.arch.rope:
            return x + self.wpe(torch.arange(first, first + T, device=tokens.device)), None
        return x, (self.rope_cos[first:first + T], self.rope_sin[first:first + T])

    def head(self, x):
        """Final norm, LM head (tied: wte) and soft cap."""
        head = self.wte.weight if self.arch.tie else self.lm_head.weight
        x = self.ln_f(x)
        logits = rounded(x) @ rounded(head).T if HALF else x @ head.T
        if self.arch.softcap > 0:
            logits = self.arch.softcap * torch.tanh(logits / self.arch.softcap)
        return logits

    def forward(self, tokens):
        x, rope = self.embed(tokens)
        for block in self.h:
            x = block(x, rope)
        return self.head(x)


def main():
    global HALF
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    inputs = tensor_file.read(sys.argv[1])
    HALF = "precision" in inputs and int(inputs["precision"][0]) == 1
    n_layer, n_head, n_embd, seq_len, vocab_size, steps = (int(x) for x in inputs["config"])
    lr, beta1, beta2, eps, weight_decay, max_norm = (float(x) for x in inputs["adamw"])
    arch = Arch(inputs["arch"], inputs["arch_f32"]) if "arch" in inputs else Arch()
    model = GPT(n_layer, n_head, n_embd, seq_len, vocab_size, arch)
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
