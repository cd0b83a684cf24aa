"""Trains SPaR-toy from scratch on the toy world's conversations (CPU, Debian's python3-torch).

    npm run cli -- toy-data --model public/models/spar-toy --data /tmp/toy-data --count 7000 --seed 1
    /usr/bin/python3 scripts/toy/train.py --model public/models/spar-toy --data /tmp/toy-data

A plain Llama (the architecture config.json describes, exactly as transformers' LlamaForCausalLM
computes it: RMSNorm, rotate-half RoPE, SwiGLU, tied embeddings), next-token cross-entropy on the
assistant turns only, AdamW with warmup and cosine decay, length-bucketed batches. Writes
model.safetensors into the model folder (F32, HF tensor names); reference_logits.py then records
the trained model's logits so the lab's CPU reference can be checked against them.
"""
import argparse, json, math, os, random, struct, time

import numpy as np
import torch
import torch.nn.functional as F


def rms_norm(x, w, eps):
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Llama(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C, I, V = cfg['hidden_size'], cfg['intermediate_size'], cfg['vocab_size']
        self.nh, self.nkv = cfg['num_attention_heads'], cfg['num_key_value_heads']
        self.hd = cfg.get('head_dim') or C // self.nh
        self.eps = cfg['rms_norm_eps']
        std = cfg.get('initializer_range', 0.02)
        P = lambda *shape: torch.nn.Parameter(torch.randn(*shape) * std)
        self.embed = P(V, C)
        self.layers = torch.nn.ModuleList()
        for _ in range(cfg['num_hidden_layers']):
            layer = torch.nn.Module()
            layer.ln1 = torch.nn.Parameter(torch.ones(C))
            layer.q, layer.k, layer.v = P(self.nh * self.hd, C), P(self.nkv * self.hd, C), P(self.nkv * self.hd, C)
            layer.o = P(C, self.nh * self.hd)
            layer.ln2 = torch.nn.Parameter(torch.ones(C))
            layer.gate, layer.up, layer.down = P(I, C), P(I, C), P(C, I)
            self.layers.append(layer)
        self.norm = torch.nn.Parameter(torch.ones(C))
        theta = cfg['rope_theta']
        inv_freq = 1.0 / (theta ** (torch.arange(0, self.hd, 2, dtype=torch.int64).float() / self.hd))
        pos = torch.arange(cfg['max_position_embeddings']).float()
        freqs = torch.outer(pos, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer('cos', emb.cos(), persistent=False)
        self.register_buffer('sin', emb.sin(), persistent=False)

    def forward(self, ids, where=None):
        """Logits at every position, or only at the positions `where` (a bool mask) selects."""
        B, T = ids.shape
        x = self.embed[ids]
        cos, sin = self.cos[:T], self.sin[:T]
        causal = torch.full((T, T), float('-inf')).triu(1)
        for l in self.layers:
            h = rms_norm(x, l.ln1, self.eps)
            q = (h @ l.q.T).view(B, T, self.nh, self.hd).transpose(1, 2)
            k = (h @ l.k.T).view(B, T, self.nkv, self.hd).transpose(1, 2)
            v = (h @ l.v.T).view(B, T, self.nkv, self.hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if self.nkv != self.nh:
                k = k.repeat_interleave(self.nh // self.nkv, dim=1)
                v = v.repeat_interleave(self.nh // self.nkv, dim=1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + causal
            a = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, self.nh * self.hd)
            x = x + a @ l.o.T
            h = rms_norm(x, l.ln2, self.eps)
            x = x + (F.silu(h @ l.gate.T) * (h @ l.up.T)) @ l.down.T
        x = rms_norm(x, self.norm, self.eps)
        return (x if where is None else x[where]) @ self.embed.T

    def hf_tensors(self):
        out = {'model.embed_tokens.weight': self.embed}
        for i, l in enumerate(self.layers):
            p = f'model.layers.{i}.'
            out.update({
                p + 'input_layernorm.weight': l.ln1,
                p + 'self_attn.q_proj.weight': l.q, p + 'self_attn.k_proj.weight': l.k,
                p + 'self_attn.v_proj.weight': l.v, p + 'self_attn.o_proj.weight': l.o,
                p + 'post_attention_layernorm.weight': l.ln2,
                p + 'mlp.gate_proj.weight': l.gate, p + 'mlp.up_proj.weight': l.up, p + 'mlp.down_proj.weight': l.down,
            })
        out['model.norm.weight'] = self.norm
        return out


def write_safetensors(path, tensors):
    """The safetensors layout: u64 header length, JSON header (padded to 8 bytes), raw data."""
    header, blobs, offset = {'__metadata__': {'format': 'pt'}}, [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().contiguous().float().numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path, model):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    with torch.no_grad():
        for name, p in model.hf_tensors().items():
            h = header[name]
            b, e = h['data_offsets']
            p.copy_(torch.from_numpy(np.frombuffer(data[b:e], dtype='<f4').copy()).view(*h['shape']))


def load_data(folder):
    tokens = np.fromfile(os.path.join(folder, 'tokens.u16'), dtype='<u2').astype(np.int64)
    mask = np.fromfile(os.path.join(folder, 'mask.u8'), dtype=np.uint8)
    meta = json.load(open(os.path.join(folder, 'examples.json')))
    return tokens, mask, meta['roles'], meta['examples']


def batches(examples, max_tokens, rng):
    """Length-bucketed batches of about max_tokens (padded) tokens each, in random order."""
    order = sorted(range(len(examples)), key=lambda i: (examples[i][1], rng.random()))
    out, cur = [], []
    for i in order:
        if cur and (len(cur) + 1) * examples[i][1] > max_tokens:
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True)
    ap.add_argument('--data', required=True)
    ap.add_argument('--epochs', type=float, default=1.0)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--batch-tokens', type=int, default=4096)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--save-every', type=int, default=200)
    ap.add_argument('--stop-at', type=int, help='stop after this many steps of the schedule (the schedule still spans the whole plan)')
    ap.add_argument('--init', help='start from this model.safetensors (F32, as written here) instead of random weights')
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = random.Random(a.seed)
    cfg = json.load(open(os.path.join(a.model, 'config.json')))
    model = Llama(cfg)
    if a.init:
        load_safetensors(a.init, model)
    print(f'parameters: {sum(p.numel() for p in model.parameters()):,}', flush=True)
    tokens, mask, roles, examples = load_data(a.data)
    plan = []
    for e in range(math.ceil(a.epochs)):
        bs = batches(examples, a.batch_tokens, rng)
        plan += bs if e + 1 <= a.epochs else bs[: int(len(bs) * (a.epochs - e))]
    total = len(plan)
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.dim() == 1 else decay).append(p)
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.01}, {'params': no_decay, 'weight_decay': 0.0}], lr=a.lr, betas=(0.9, 0.98))
    warmup = max(1, total // 50)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * min(1.0, s / total)))))
    out_path = os.path.join(a.model, 'model.safetensors')
    t0, seen, role_loss = time.time(), 0, {r: [] for r in roles}
    for step, batch in enumerate(plan):
        if a.stop_at is not None and step >= a.stop_at:
            break
        T = max(examples[i][1] for i in batch)
        ids = torch.zeros(len(batch), T, dtype=torch.long)
        m = torch.zeros(len(batch), T)
        for j, i in enumerate(batch):
            off, n, _ = examples[i]
            ids[j, :n] = torch.from_numpy(tokens[off:off + n])
            m[j, :n] = torch.from_numpy(mask[off:off + n].astype(np.float32))
        w = m[:, 1:]
        where = w > 0  # the vocabulary projection only where the loss looks
        logits = model(ids[:, :-1], where)
        nll = torch.zeros_like(w)
        nll[where] = F.cross_entropy(logits, ids[:, 1:][where], reduction='none')
        per_seq = nll.sum(1) / w.sum(1).clamp(min=1)
        loss = per_seq.mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        seen += int(ids.numel())
        for j, i in enumerate(batch):
            role_loss[roles[examples[i][2]]].append(float(per_seq[j]))
        if (step + 1) % 20 == 0 or step + 1 == total:
            rate = seen / (time.time() - t0)
            means = ' '.join(f'{r} {np.mean(v[-200:]):.3f}' for r, v in role_loss.items() if v)
            print(f'step {step + 1}/{total} loss {loss.item():.3f} [{means}] lr {sched.get_last_lr()[0]:.2e} {rate:.0f} tok/s eta {(total - step - 1) * (time.time() - t0) / (step + 1) / 60:.1f} min', flush=True)
        if (step + 1) % a.save_every == 0 or step + 1 in (total, a.stop_at):
            write_safetensors(out_path, model.hf_tensors())
    print(f'done in {(time.time() - t0) / 60:.1f} min', flush=True)


if __name__ == '__main__':
    main()
