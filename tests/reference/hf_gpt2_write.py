#!/usr/bin/python3
"""Writes a random GPT-2 as a Hugging Face folder, as PyTorch-side tools lay one out, for the tests of
`alpha import`: model.safetensors by this file's own small writer (Debian has no safetensors package),
config.json (a GPT2Config) and GPT-2's tokenizer files, copied from a folder holding encoder.json +
vocab.bpe (scripts/fetch-data's data/gpt2) as Hugging Face's vocab.json + merges.txt. The model is
hf_gpt2_reference.py's GPT-2 in transformers' conventions with random weights in which every tensor
matters. With INPUT and OUTPUT (tensor files, see tensor_file.py) it also writes the logits (B, T, V)
of INPUT's "tokens" (B, T) in float32, computed with the weights as stored (rounded to F16/BF16 where
the file holds them so, which alpha widens exactly).

Usage: hf_gpt2_write.py OUT_DIR [options] [INPUT OUTPUT]
  --gpt2-files DIR   copy DIR/encoder.json + vocab.bpe as vocab.json + merges.txt (vocab_size 50257)
  --vocab N          vocab_size without tokenizer files (default 50257)
  --layers --heads --embd --positions   sizes (default 2, 3, 48, 40)
  --dtype f32|f16|bf16|mixed   every tensor in one dtype, or mixed: matrices BF16, wpe F16, the rest F32
  --prefix           GPT2LMHeadModel's names: "transformer." before each, lm_head.weight (a copy of wte
                     when tied, as torch.save writes a tied head)
  --buffers          h.N.attn.bias (BOOL causal mask) and h.N.attn.masked_bias (F32 scalar), as older
                     transformers versions saved them
  --untied           a head of its own (lm_head.weight) and tie_word_embeddings false
  --activation NAME  activation_function (default gelu_new)
  --seed N
Run with Debian's /usr/bin/python3 (python3-torch).
"""
import argparse
import json
import os
import shutil
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_gpt2_reference  # noqa: E402
import tensor_file  # noqa: E402

TORCH_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def storage_dtype(choice, name, tensor):
    if choice != "mixed":
        return choice.upper()
    if name == "wpe.weight":
        return "F16"
    return "BF16" if tensor.dim() == 2 else "F32"


def tensor_bytes(tensor, dtype):
    """Little-endian bytes of `tensor` in a safetensors dtype."""
    if dtype == "BF16":  # numpy has no bfloat16: its 16 bits as int16
        return tensor.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    if dtype == "F16":
        return tensor.to(torch.float16).numpy().astype("<f2").tobytes()
    if dtype == "BOOL":
        return tensor.to(torch.uint8).numpy().tobytes()
    return tensor.to(torch.float32).numpy().astype("<f4").tobytes()


def write_safetensors(path, tensors, metadata):
    """tensors: name -> (dtype, shape, bytes). The header lists them by name; the data holds them in
    reverse name order, so a reader must go by data_offsets, not by header order."""
    header, offset = {}, 0
    for name in sorted(tensors, reverse=True):
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    ordered = {"__metadata__": metadata, **{name: header[name] for name in sorted(header)}}
    text = json.dumps(ordered).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in sorted(tensors, reverse=True):
            f.write(tensors[name][2])


def random_model(config, seed):
    torch.manual_seed(seed)
    model = hf_gpt2_reference.GPT2LMHead(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.02 * torch.randn_like(p))
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("io", nargs="*", help="INPUT OUTPUT")
    parser.add_argument("--gpt2-files")
    parser.add_argument("--vocab", type=int, default=50257)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=3)
    parser.add_argument("--embd", type=int, default=48)
    parser.add_argument("--positions", type=int, default=40)
    parser.add_argument("--dtype", choices=["f32", "f16", "bf16", "mixed"], default="f32")
    parser.add_argument("--prefix", action="store_true")
    parser.add_argument("--buffers", action="store_true")
    parser.add_argument("--untied", action="store_true")
    parser.add_argument("--activation", default="gelu_new")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_intermixed_args()  # INPUT OUTPUT come after the options
    assert len(args.io) in (0, 2), "give both INPUT and OUTPUT, or neither"

    os.makedirs(args.out_dir, exist_ok=True)
    vocab = args.vocab
    if args.gpt2_files:
        shutil.copy(os.path.join(args.gpt2_files, "encoder.json"), os.path.join(args.out_dir, "vocab.json"))
        shutil.copy(os.path.join(args.gpt2_files, "vocab.bpe"), os.path.join(args.out_dir, "merges.txt"))
        with open(os.path.join(args.gpt2_files, "encoder.json")) as f:
            vocab = len(json.load(f))
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": vocab,
              "n_positions": args.positions, "n_ctx": args.positions, "n_embd": args.embd,
              "n_layer": args.layers, "n_head": args.heads, "n_inner": None,
              "activation_function": args.activation, "layer_norm_epsilon": 1e-5, "resid_pdrop": 0.1,
              "embd_pdrop": 0.1, "attn_pdrop": 0.1, "initializer_range": 0.02,
              "tie_word_embeddings": not args.untied, "bos_token_id": vocab - 1, "eos_token_id": vocab - 1}
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    model = random_model(config, args.seed)
    tensors = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            dtype = storage_dtype(args.dtype, name, p)
            p.copy_(p.to(TORCH_DTYPES[dtype]).float())  # the logits below use the stored values
            stored = name if name.startswith("lm_head") or not args.prefix else "transformer." + name
            tensors[stored] = (dtype, p.shape, tensor_bytes(p, dtype))
    if args.prefix and not args.untied:
        tensors["lm_head.weight"] = tensors["transformer.wte.weight"]
    if args.buffers:
        P = args.positions
        mask = torch.tril(torch.ones(P, P, dtype=torch.bool)).view(1, 1, P, P)
        for layer in range(args.layers):
            h = f"{'transformer.' if args.prefix else ''}h.{layer}.attn."
            tensors[h + "bias"] = ("BOOL", mask.shape, tensor_bytes(mask, "BOOL"))
            tensors[h + "masked_bias"] = ("F32", [], tensor_bytes(torch.tensor(-1e4), "F32"))
    write_safetensors(os.path.join(args.out_dir, "model.safetensors"), tensors, {"format": "pt"})

    if args.io:
        inputs = tensor_file.read(args.io[0])
        with torch.no_grad():
            logits = model(torch.from_numpy(inputs["tokens"]).long())
        tensor_file.write(args.io[1], {"logits": logits.numpy()})


if __name__ == "__main__":
    main()
