#!/usr/bin/python3
"""A GPT-2 written in Hugging Face transformers' conventions, loaded from what `alpha export
--format=safetensors` writes, to check that export: the safetensors file is parsed here (struct, json,
torch.frombuffer; Debian has no safetensors package) with the format's rules checked, config.json is
read as transformers' GPT2Config would be, and the tensors are loaded with load_state_dict(strict=True)
into modules named and shaped like transformers' GPT2Model (Conv1D weights (in, out), tied LM head).
Usage: hf_gpt2_reference.py EXPORT_DIR INPUT OUTPUT

Input tensors: "tokens" i32 (B, T); optionally "stream" i32 (N), "text_bytes" i32 (V) and
"eval_window" i32 [T] for the evaluation loss over consecutive windows (engine/train/evaluate.h).
Output: "logits" (B, T, V); with "stream": "eval" f32 [summed nats, predicted tokens, text bytes].
Run with Debian's /usr/bin/python3 (python3-torch), float32 on the CPU.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tensor_file  # noqa: E402


def read_safetensors(path):
    """Tensors and metadata of a float32 safetensors file; raises on anything the format forbids."""
    with open(path, "rb") as f:
        raw = f.read()
    (header_size,) = struct.unpack("<Q", raw[:8])
    assert header_size % 8 == 0, "the header is padded to a multiple of 8 bytes"
    header = json.loads(raw[8:8 + header_size].decode())
    data = raw[8 + header_size:]
    metadata = header.pop("__metadata__", {})
    assert all(isinstance(v, str) for v in metadata.values()), "metadata values are strings"
    tensors, end = {}, 0
    for name, info in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        begin, stop = info["data_offsets"]
        assert info["dtype"] == "F32", f"{name}: dtype {info['dtype']}"
        assert begin == end, f"{name}: data starts at {begin}, not right after the previous tensor ({end})"
        assert stop - begin == 4 * math.prod(info["shape"]), f"{name}: {stop - begin} bytes for shape {info['shape']}"
        tensors[name] = torch.frombuffer(bytearray(data[begin:stop]), dtype=torch.float32).reshape(info["shape"])
        end = stop
    assert end == len(data), f"the tensors cover {end} of {len(data)} data bytes"
    return tensors, metadata


class Conv1D(nn.Module):
    """GPT-2's linear layer: y = x @ weight + bias with weight (in, out)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.empty(n_out))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


class Attention(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.NH = NH
        self.c_attn = Conv1D(C, 3 * C)
        self.c_proj = Conv1D(C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.NH, C // self.NH).transpose(1, 2) for t in self.c_attn(x).split(C, dim=2))
        scores = q @ k.transpose(-2, -1) / math.sqrt(C // self.NH)
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        return self.c_proj((F.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, C, inner):
        super().__init__()
        self.c_fc = Conv1D(C, inner)
        self.c_proj = Conv1D(inner, C)

    def forward(self, x):
        h = self.c_fc(x)  # gelu_new: GELU's tanh approximation, written out
        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * h.pow(3))))
        return self.c_proj(h)


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        C, eps = config["n_embd"], config["layer_norm_epsilon"]
        self.ln_1 = nn.LayerNorm(C, eps=eps)
        self.attn = Attention(C, config["n_head"])
        self.ln_2 = nn.LayerNorm(C, eps=eps)
        self.mlp = MLP(C, config["n_inner"] or 4 * C)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2LMHead(nn.Module):
    """GPT2Model's parameters under GPT2Model's names; logits through the tied wte, or through
    GPT2LMHeadModel's lm_head (an nn.Linear without bias) when tie_word_embeddings is false."""

    def __init__(self, config):
        super().__init__()
        assert config["model_type"] == "gpt2" and config["architectures"] == ["GPT2LMHeadModel"]
        assert config["activation_function"] in ("gelu_new", "gelu_pytorch_tanh")  # the same function
        assert config["n_ctx"] == config["n_positions"]
        self.wte = nn.Embedding(config["vocab_size"], config["n_embd"])
        self.wpe = nn.Embedding(config["n_positions"], config["n_embd"])
        self.h = nn.ModuleList(Block(config) for _ in range(config["n_layer"]))
        self.ln_f = nn.LayerNorm(config["n_embd"], eps=config["layer_norm_epsilon"])
        if not config["tie_word_embeddings"]:
            self.lm_head = nn.Linear(config["n_embd"], config["vocab_size"], bias=False)

    def forward(self, tokens):
        x = self.wte(tokens) + self.wpe(torch.arange(tokens.shape[1]))
        for block in self.h:
            x = block(x)
        head = self.lm_head.weight if hasattr(self, "lm_head") else self.wte.weight
        return self.ln_f(x) @ head.T


def evaluate(model, stream, text_bytes, T):
    """Summed nats, predicted tokens and text bytes over consecutive windows of T predictions."""
    nats, count, nbytes = 0.0, 0, 0
    for start in range(0, len(stream) - 1, T):
        targets = stream[start + 1:start + T + 1]
        inputs = stream[start:start + len(targets)]
        logits = model(inputs[None])[0]
        nats += F.cross_entropy(logits.double(), targets, reduction="sum").item()
        count += len(targets)
        nbytes += int(text_bytes[targets].sum())
    return [nats, count, nbytes]


def main():
    export_dir, input_path, output_path = sys.argv[1:4]
    with open(os.path.join(export_dir, "config.json")) as f:
        config = json.load(f)
    tensors, metadata = read_safetensors(os.path.join(export_dir, "model.safetensors"))
    assert metadata.get("format") == "pt", f"metadata {metadata}"
    model = GPT2LMHead(config)
    model.load_state_dict(tensors, strict=True)  # every name and shape as GPT2Model has them
    inputs = tensor_file.read(input_path)
    out = {}
    with torch.no_grad():
        out["logits"] = model(torch.from_numpy(inputs["tokens"]).long()).numpy()
        if "stream" in inputs:
            stream = torch.from_numpy(inputs["stream"]).long()
            text_bytes = torch.from_numpy(inputs["text_bytes"]).long()
            out["eval"] = torch.tensor(evaluate(model, stream, text_bytes, int(inputs["eval_window"][0]))).numpy()
    tensor_file.write(output_path, out)


if __name__ == "__main__":
    main()
