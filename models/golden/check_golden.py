"""Engine-independent check of the golden fixtures with numpy alone: for every case folder, reads config.json (either
the transformers-5 or the legacy form), the safetensors weights (F32/F16/BF16, one file or sharded), runs a plain
float64 forward of Llama / Qwen2 / Qwen3 over ids.json, and compares with logits.f32 and greedy.json. It proves the
files agree with one another (config <-> weights <-> logits), so a failing engine test points at the engine.

  python3 models/golden/check_golden.py            # exits 1 if any case is off by more than TOLERANCE
"""

import json
import math
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# float64 numpy vs transformers' float32 CPU run: measured differences are ~1e-6; 1e-4 leaves room, still tight.
TOLERANCE = 1e-4
ST_DTYPES = {'F32': np.float32, 'F16': np.float16, 'BF16': 'bf16'}


def read_safetensors(path):
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        start, end = info['data_offsets']
        raw = data[start:end]
        if info['dtype'] == 'BF16':
            # bf16 is the top half of an f32.
            arr = (np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(ST_DTYPES[info['dtype']]).newbyteorder('<'))
        out[name] = arr.astype(np.float64).reshape(info['shape'])
    return out


def read_weights(folder):
    index = os.path.join(folder, 'model.safetensors.index.json')
    files = sorted(set(json.load(open(index))['weight_map'].values())) if os.path.exists(index) else ['model.safetensors']
    weights = {}
    for file in files:
        weights.update(read_safetensors(os.path.join(folder, file)))
    return weights


def rope_params(c):
    """(theta, scaling dict or None) from rope_parameters (transformers 5) or rope_theta / rope_scaling (legacy)."""
    p = c.get('rope_parameters') or c.get('rope_scaling') or {}
    theta = p.get('rope_theta', c.get('rope_theta', 10000.0))
    kind = p.get('rope_type', p.get('type', 'default'))
    return theta, (p if kind == 'llama3' else None)


def inv_freq(c, head_dim):
    theta, scaling = rope_params(c)
    f = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    if scaling is None:
        return f
    # Llama 3.1: keep high frequencies, divide low ones by factor, interpolate between (Meta's reference code).
    factor, lo, hi = scaling['factor'], scaling['low_freq_factor'], scaling['high_freq_factor']
    old = scaling['original_max_position_embeddings']
    wavelen = 2 * math.pi / f
    smooth = (old / wavelen - lo) / (hi - lo)
    mid = (1 - smooth) * f / factor + smooth * f
    return np.where(wavelen < old / hi, f, np.where(wavelen > old / lo, f / factor, mid))


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def forward(c, w, ids):
    arch = c['model_type']
    hidden, heads, kv = c['hidden_size'], c['num_attention_heads'], c.get('num_key_value_heads') or c['num_attention_heads']
    head_dim = c.get('head_dim') or hidden // heads
    eps = c['rms_norm_eps']
    n = len(ids)
    freqs = np.outer(np.arange(n), inv_freq(c, head_dim))  # [n, head_dim/2]
    cos, sin = np.cos(freqs)[:, None, :], np.sin(freqs)[:, None, :]

    def rope(x):  # x [n, h, head_dim], "half" layout: dim j pairs with j + head_dim/2
        a, b = x[..., :head_dim // 2], x[..., head_dim // 2:]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin], -1)

    def linear(x, name):
        y = x @ w[name + '.weight'].T
        return y + w[name + '.bias'] if name + '.bias' in w else y

    x = w['model.embed_tokens.weight'][ids]
    mask = np.triu(np.full((n, n), -np.inf), 1)
    for i in range(c['num_hidden_layers']):
        p = f'model.layers.{i}.'
        h = rms_norm(x, w[p + 'input_layernorm.weight'], eps)
        q = linear(h, p + 'self_attn.q_proj').reshape(n, heads, head_dim)
        k = linear(h, p + 'self_attn.k_proj').reshape(n, kv, head_dim)
        v = linear(h, p + 'self_attn.v_proj').reshape(n, kv, head_dim)
        if arch == 'qwen3':
            q = rms_norm(q, w[p + 'self_attn.q_norm.weight'], eps)
            k = rms_norm(k, w[p + 'self_attn.k_norm.weight'], eps)
        q, k = rope(q), rope(k)
        k, v = np.repeat(k, heads // kv, axis=1), np.repeat(v, heads // kv, axis=1)
        scores = np.einsum('qhd,khd->hqk', q, k) / math.sqrt(head_dim) + mask
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        attn = np.einsum('hqk,khd->qhd', probs, v).reshape(n, heads * head_dim)
        x = x + linear(attn, p + 'self_attn.o_proj')
        h = rms_norm(x, w[p + 'post_attention_layernorm.weight'], eps)
        g = linear(h, p + 'mlp.gate_proj')
        x = x + linear(g / (1 + np.exp(-g)) * linear(h, p + 'mlp.up_proj'), p + 'mlp.down_proj')
    x = rms_norm(x, w['model.norm.weight'], eps)
    head = w['lm_head.weight'] if 'lm_head.weight' in w else w['model.embed_tokens.weight']
    return x @ head.T


def check(case):
    folder = os.path.join(HERE, case)
    c = json.load(open(os.path.join(folder, 'config.json')))
    meta = json.load(open(os.path.join(folder, 'meta.json')))
    ids = json.load(open(os.path.join(folder, 'ids.json')))
    greedy = json.load(open(os.path.join(folder, 'greedy.json')))
    w = read_weights(folder)
    golden = np.fromfile(os.path.join(folder, 'logits.f32'), dtype='<f4').reshape(len(ids), c['vocab_size'])
    assert ('lm_head.weight' in w) == (not c.get('tie_word_embeddings', False)), f'{case}: lm_head vs tying'
    ours = forward(c, w, np.array(ids))
    logits_diff = float(np.abs(ours - golden).max())
    head_dim = c.get('head_dim') or c['hidden_size'] // c['num_attention_heads']
    freq_diff = float(np.abs(inv_freq(c, head_dim) - np.array(meta['rope_inv_freq'])).max())
    # Greedy continuation by an argmax loop over full prefills.
    seq = list(greedy['prompt'])
    for _ in range(len(greedy['continuation'])):
        seq.append(int(forward(c, w, np.array(seq))[-1].argmax()))
    greedy_ok = seq[len(greedy['prompt']):] == greedy['continuation']
    # How close the greedy path comes to a tie: an engine whose logits are off by more than half this may pick
    # another token there (llama3-rope: 1e-3, qwen3: 2e-3), so GPU/f16 greedy tests should mind it.
    path = np.sort(forward(c, w, np.array(seq))[len(greedy['prompt']) - 1:-1], -1)
    gap = float((path[:, -1] - path[:, -2]).min())
    ok = logits_diff <= TOLERANCE and freq_diff <= 1e-6 and greedy_ok
    print(f'{case:22s} max|numpy - transformers| = {logits_diff:.2e}  inv_freq diff {freq_diff:.1e}  '
          f'greedy {"ok" if greedy_ok else "DIFFERS"} (min top-2 gap {gap:.1e})  {"ok" if ok else "FAIL"}')
    return ok


def main():
    cases = sorted(d for d in os.listdir(HERE) if os.path.exists(os.path.join(HERE, d, 'meta.json')))
    results = [check(case) for case in cases]
    sys.exit(0 if all(results) else 1)


if __name__ == '__main__':
    main()
