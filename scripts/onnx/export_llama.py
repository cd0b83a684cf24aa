"""Exports a Hugging Face Llama checkpoint to ONNX in the layout transformers.js v4 loads.

    /usr/bin/python3 scripts/onnx/export_llama.py --model public/models/spar-toy [--out DIR]

Input: a folder with config.json (model_type llama), model.safetensors (F32, HF tensor names),
tokenizer.json, tokenizer_config.json and, if present, generation_config.json. Output (DIR
defaults to the model folder itself): DIR/onnx/model.onnx, fp32 with the weights inside, next to
the JSON files; config.json gains "transformers.js_config": {"dtype": "fp32"} so transformers.js
loads onnx/model.onnx on wasm too (its wasm default is q8, onnx/model_quantized.onnx).

The graph is optimum's text-generation-with-past export, which transformers.js feeds:
  inputs   input_ids       int64   [batch_size, sequence_length]
           attention_mask  int64   [batch_size, past_sequence_length + sequence_length]
           position_ids    int64   [batch_size, sequence_length]
           past_key_values.{i}.key / .value  float32 [batch_size, num_key_value_heads, past_sequence_length, head_dim]
  outputs  logits          float32 [batch_size, sequence_length, vocab_size]
           present.{i}.key / .value          float32 [batch_size, num_key_value_heads, total_sequence_length, head_dim]
The past axis may be 0 (the first call). transformers.js builds that empty cache from the input
metadata, resolving the symbol "batch_size" and reading every other symbol as 0, so the axis
names matter and the head counts and head_dim must be fixed numbers.

The math is the lab's (src/engine/cpu/model.ts): RMSNorm, rotate-half RoPE with rope_theta (and
Llama-3 rope scaling), GQA, SwiGLU, tied or untied lm_head, a causal mask combined with the
attention_mask's padding. Linear weights are stored transposed ([in, out]) and a tied embedding
once, transposed too, so no weight is duplicated by constant folding.
"""
import argparse, json, math, os, shutil, sys

import onnx
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'toy'))
from train import load_safetensors, rms_norm, rotate_half  # noqa: E402

OPSET = 14
COPIED = ('tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json')


def rope_inv_freq(cfg, head_dim):
    """src/engine/model/config.ts ropeInvFreq: in f64, then rounded to f32 like the lab's table."""
    theta = cfg.get('rope_theta') or (cfg.get('rope_parameters') or {})['rope_theta']
    scaling = cfg.get('rope_scaling') or cfg.get('rope_parameters') or {}
    rope_type = scaling.get('rope_type', scaling.get('type', 'default'))
    if rope_type not in ('default', 'llama3'):
        raise SystemExit(f'rope type {rope_type!r} is not supported (default or llama3)')
    out = []
    for i in range(head_dim // 2):
        f = 1 / theta ** (2 * i / head_dim)
        if rope_type == 'llama3':
            # transformers' _compute_llama3_parameters
            factor, low, high = scaling['factor'], scaling['low_freq_factor'], scaling['high_freq_factor']
            original = scaling['original_max_position_embeddings']
            wavelen = 2 * math.pi / f
            if wavelen > original / low:
                f = f / factor
            elif wavelen >= original / high:
                smooth = (original / wavelen - low) / (high - low)
                f = (1 - smooth) * (f / factor) + smooth * f
        out.append(f)
    return torch.tensor(out, dtype=torch.float64).float()


class CachedLlama(torch.nn.Module):
    """The decoder over a KV cache, with HF tensor names mapped onto transposed parameters."""

    def __init__(self, cfg):
        super().__init__()
        if cfg.get('model_type') != 'llama':
            raise SystemExit(f"model_type {cfg.get('model_type')!r} is not llama")
        if cfg.get('attention_bias') or cfg.get('mlp_bias'):
            raise SystemExit('attention_bias / mlp_bias are not supported')
        C, I, V = cfg['hidden_size'], cfg['intermediate_size'], cfg['vocab_size']
        self.nh, self.nkv = cfg['num_attention_heads'], cfg.get('num_key_value_heads') or cfg['num_attention_heads']
        self.hd = cfg.get('head_dim') or C // self.nh
        self.eps = cfg['rms_norm_eps']
        self.tied = cfg.get('tie_word_embeddings', False)
        P = lambda *shape: torch.nn.Parameter(torch.empty(*shape))
        self.embed_t = P(C, V)  # the embedding transposed: input rows by Gather on axis 1, and the tied lm_head as is
        self.lm_head_t = None if self.tied else P(C, V)
        self.layers = torch.nn.ModuleList()
        for _ in range(cfg['num_hidden_layers']):
            layer = torch.nn.Module()
            layer.ln1, layer.ln2 = P(C), P(C)
            layer.q, layer.k, layer.v = P(C, self.nh * self.hd), P(C, self.nkv * self.hd), P(C, self.nkv * self.hd)
            layer.o = P(self.nh * self.hd, C)
            layer.gate, layer.up, layer.down = P(C, I), P(C, I), P(I, C)
            self.layers.append(layer)
        self.norm = P(C)
        self.register_buffer('inv_freq', rope_inv_freq(cfg, self.hd), persistent=False)

    def hf_tensors(self):
        """HF name → the tensor its values go to (a transposed view for [out, in] weights)."""
        out = {'model.embed_tokens.weight': self.embed_t.T, 'model.norm.weight': self.norm}
        if not self.tied:
            out['lm_head.weight'] = self.lm_head_t.T
        for i, l in enumerate(self.layers):
            p = f'model.layers.{i}.'
            out.update({
                p + 'input_layernorm.weight': l.ln1, p + 'post_attention_layernorm.weight': l.ln2,
                p + 'self_attn.q_proj.weight': l.q.T, p + 'self_attn.k_proj.weight': l.k.T,
                p + 'self_attn.v_proj.weight': l.v.T, p + 'self_attn.o_proj.weight': l.o.T,
                p + 'mlp.gate_proj.weight': l.gate.T, p + 'mlp.up_proj.weight': l.up.T, p + 'mlp.down_proj.weight': l.down.T,
            })
        return out

    def forward(self, input_ids, attention_mask, position_ids, *past):
        B, T = input_ids.shape
        S = attention_mask.shape[1]
        x = self.embed_t[:, input_ids].permute(1, 2, 0)  # [B, T, C]
        # The lab's angle: the f32 product of position and inverse frequency.
        angle = position_ids.float()[..., None] * self.inv_freq
        emb = torch.cat((angle, angle), dim=-1)[:, None]  # [B, 1, T, D]
        cos, sin = emb.cos(), emb.sin()
        # Query t sits at absolute index S - T + t and sees keys up to it that are not padding.
        key_index = torch.arange(S)
        causal = key_index[None, :] <= key_index[-T:][:, None]  # [T, S]
        allowed = causal[None, None] & attention_mask.bool()[:, None, None, :]  # [B, 1, T, S]
        # A finite floor, not -inf: a padding query that sees no key gets finite junk, not NaN.
        floor = torch.tensor(torch.finfo(torch.float32).min)
        presents = []
        for i, l in enumerate(self.layers):
            h = rms_norm(x, l.ln1, self.eps)
            q = (h @ l.q).view(B, T, self.nh, self.hd).transpose(1, 2)
            k = (h @ l.k).view(B, T, self.nkv, self.hd).transpose(1, 2)
            v = (h @ l.v).view(B, T, self.nkv, self.hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = torch.cat((past[2 * i], k), dim=2)
            v = torch.cat((past[2 * i + 1], v), dim=2)
            presents += [k, v]
            if self.nkv != self.nh:  # query head j reads kv head j // group, as repeat_interleave would
                group = self.nh // self.nkv
                k = k[:, :, None].expand(B, self.nkv, group, S, self.hd).reshape(B, self.nh, S, self.hd)
                v = v[:, :, None].expand(B, self.nkv, group, S, self.hd).reshape(B, self.nh, S, self.hd)
            att = torch.where(allowed, (q @ k.transpose(-1, -2)) / math.sqrt(self.hd), floor)
            a = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, self.nh * self.hd)
            x = x + a @ l.o
            h = rms_norm(x, l.ln2, self.eps)
            x = x + (F.silu(h @ l.gate) * (h @ l.up)) @ l.down
        x = rms_norm(x, self.norm, self.eps)
        return (x @ (self.embed_t if self.tied else self.lm_head_t), *presents)


def io_names(num_layers):
    kv = lambda prefix: [f'{prefix}.{i}.{t}' for i in range(num_layers) for t in ('key', 'value')]
    return ['input_ids', 'attention_mask', 'position_ids'] + kv('past_key_values'), ['logits'] + kv('present')


def export(model, path):
    inputs, outputs = io_names(len(model.layers))
    B, T, past = 2, 3, 2  # any sizes: every axis that varies is dynamic
    args = (
        torch.zeros(B, T, dtype=torch.int64),
        torch.ones(B, past + T, dtype=torch.int64),
        torch.arange(past, past + T).repeat(B, 1),
        *[torch.zeros(B, model.nkv, past, model.hd) for _ in inputs[3:]],
    )
    axes = {'input_ids': {0: 'batch_size', 1: 'sequence_length'},
            'attention_mask': {0: 'batch_size', 1: 'total_sequence_length'},
            'position_ids': {0: 'batch_size', 1: 'sequence_length'},
            'logits': {0: 'batch_size', 1: 'sequence_length'}}
    axes.update({n: {0: 'batch_size', 2: 'past_sequence_length'} for n in inputs[3:]})
    axes.update({n: {0: 'batch_size', 2: 'total_sequence_length'} for n in outputs[1:]})
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=True)
    onnx.checker.check_model(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True, help='HF Llama folder (F32 model.safetensors)')
    ap.add_argument('--out', help='output folder (default: the model folder)')
    a = ap.parse_args()
    out = a.out or a.model
    cfg = json.load(open(os.path.join(a.model, 'config.json')))
    model = CachedLlama(cfg)
    load_safetensors(os.path.join(a.model, 'model.safetensors'), model)
    model.eval()
    os.makedirs(os.path.join(out, 'onnx'), exist_ok=True)
    onnx_path = os.path.join(out, 'onnx', 'model.onnx')
    export(model, onnx_path)
    cfg['transformers.js_config'] = {'dtype': 'fp32'}
    with open(os.path.join(out, 'config.json'), 'w') as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True) + '\n')
    for name in COPIED:
        src, dst = os.path.join(a.model, name), os.path.join(out, name)
        if os.path.exists(src) and not (os.path.exists(dst) and os.path.samefile(src, dst)):
            shutil.copyfile(src, dst)
    print(f'{onnx_path}: {os.path.getsize(onnx_path)} bytes')


if __name__ == '__main__':
    main()
