#!/usr/bin/env python3
"""Seeded random checkpoints of real model shapes, and their ONNX exports the way onnx-community's are laid out.

For one shape (a models/catalog.json id, or `tiny`, the smoke test's random model) this writes, under --out:
  config.json, generation_config.json, model.safetensors   the Hugging Face checkpoint Sieve reads (f16 weights)
  onnx/model.onnx, model_fp16.onnx, model_q4.onnx          what Transformers.js loads (past_key_values.N.key/value
                                                           in, present.N.key/value out; com.microsoft
                                                           GroupQueryAttention, RotaryEmbedding,
                                                           SkipSimplifiedLayerNormalization, MatMulNBits)
  export.json                                              op histogram and byte size of each export, and (with
                                                           --golden N, needs torch + transformers) transformers'
                                                           first N greedy ids on the checkpoint

The weights are made "q4-exact": every block of 32 along a matrix's input dimension is code * scale with integer codes
in [-8, 7], one code -8 in each block and a scale of few mantissa bits. So the f16 checkpoint, the f32/f16 exports and
the q4 export (MatMulNBits, symmetric, zero point 8: the layout Sieve's int4 uses, docs/quantization.md) hold the same
numbers, and Sieve's own int4 quantization of the checkpoint gives back exactly those codes and scales. Every engine
in every format then runs the same weights, and the fairness check (greedy ids equal transformers') is meaningful.

Only numpy and onnx are needed for the checkpoint and the exports; the golden needs torch and transformers.
"""
import argparse
import json
import math
import os
import struct
import sys
from collections import Counter

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))

# The smoke test's model (bench/compare/testdata/tiny): small enough to commit (< 1 MB for checkpoint + exports).
TINY = {
    'model_type': 'llama', 'vocab_size': 256, 'hidden_size': 64, 'intermediate_size': 128, 'num_hidden_layers': 2,
    'num_attention_heads': 4, 'num_key_value_heads': 2, 'head_dim': 16, 'max_position_embeddings': 256,
    'rope_theta': 10000.0, 'rms_norm_eps': 1e-05, 'tie_word_embeddings': True, 'attention_bias': False,
}
BLOCK = 32


def catalog_config(model_id, catalog):
    if model_id == 'tiny':
        return dict(TINY)
    with open(catalog) as f:
        for m in json.load(f)['models']:
            if m['id'] == model_id:
                return dict(m['config'])
    raise SystemExit(f'{model_id} is not in models/catalog.json')


def full_config(c, context):
    c = dict(c)
    c.setdefault('head_dim', c['hidden_size'] // c['num_attention_heads'])
    c.setdefault('attention_bias', c['model_type'] == 'qwen2')
    c['max_position_embeddings'] = min(c['max_position_embeddings'], context) if context else c['max_position_embeddings']
    arch = {'llama': 'LlamaForCausalLM', 'qwen2': 'Qwen2ForCausalLM'}[c['model_type']]
    c.update({
        'architectures': [arch], 'bos_token_id': 1, 'eos_token_id': 2, 'hidden_act': 'silu', 'torch_dtype': 'float16',
        'initializer_range': 0.02, 'use_cache': True,
    })
    return c


# ---------------------------------------------------------------- weights

def q4_exact(rng, rows, cols, std):
    """A [rows, cols] matrix whose every 32-block along cols is code * scale (codes in [-8, 7], one -8 per block)."""
    assert cols % BLOCK == 0, f'input dimension {cols} is not a multiple of {BLOCK}'
    blocks = cols // BLOCK
    # The other 31 codes are drawn around +8/31, so that with the -8 every block sums to about 0. Drawn around 0, the
    # -8 gave every matrix a mean of -0.1 std: a rank-one part common to all layers, which drove the random models of
    # the three real shapes to one token repeated whatever the input (2026-12-03: SmolLM2 31495, Qwen 47100, Llama
    # 89692), a fairness check that tested the embedding and LM head only. Zero-mean blocks give varied ids (SmolLM2's
    # shape, numpy forward: 11 distinct of 16).
    codes = np.clip(np.rint(rng.standard_normal((rows, blocks, BLOCK)) * 2.5 + 8 / (BLOCK - 1)), -7, 7).astype(np.int8)
    first = rng.integers(0, BLOCK, size=(rows, blocks))
    np.put_along_axis(codes, first[..., None], -8, axis=2)
    # Scales near std / 2.5 (so the matrix has about std), rounded to 6 significant bits: code * scale is exact in f16.
    raw = std / 2.5 * np.exp(rng.uniform(-0.25, 0.25, size=(rows, blocks)))
    exp = np.floor(np.log2(raw))
    scales = (np.round(raw / 2.0 ** exp * 32) / 32 * 2.0 ** exp).astype(np.float32)
    return codes, scales


def dequant(codes, scales):
    return (codes.astype(np.float32) * scales[..., None]).reshape(codes.shape[0], -1)


def make_weights(c, seed):
    """name -> (f32 array, (codes, scales) or None), in the Hugging Face names."""
    rng = np.random.default_rng(seed)
    h, f, d = c['hidden_size'], c['intermediate_size'], c['head_dim']
    nh, kv = c['num_attention_heads'], c['num_key_value_heads']
    w = {}

    def mat(name, rows, cols, std=None):
        # 1/sqrt(fan-in): every layer changes the residual stream as much as the embedding does (with a smaller std the
        # tied embedding dominates and a random model just repeats its input token, a fairness check that proves little).
        codes, scales = q4_exact(rng, rows, cols, std if std is not None else cols ** -0.5)
        w[name] = (dequant(codes, scales), (codes, scales))

    # A larger embedding std makes the logits' top-2 gaps large against f16 rounding (a decisive greedy argmax).
    mat('model.embed_tokens.weight', c['vocab_size'], h, std=0.1)
    for i in range(c['num_hidden_layers']):
        p = f'model.layers.{i}.'
        w[p + 'input_layernorm.weight'] = (np.ones(h, np.float32), None)
        mat(p + 'self_attn.q_proj.weight', nh * d, h)
        mat(p + 'self_attn.k_proj.weight', kv * d, h)
        mat(p + 'self_attn.v_proj.weight', kv * d, h)
        if c['attention_bias']:
            for n, size in (('q', nh * d), ('k', kv * d), ('v', kv * d)):
                b = (rng.standard_normal(size) * 0.02).astype(np.float16).astype(np.float32)
                w[p + f'self_attn.{n}_proj.bias'] = (b, None)
        mat(p + 'self_attn.o_proj.weight', h, nh * d)
        w[p + 'post_attention_layernorm.weight'] = (np.ones(h, np.float32), None)
        mat(p + 'mlp.gate_proj.weight', f, h)
        mat(p + 'mlp.up_proj.weight', f, h)
        mat(p + 'mlp.down_proj.weight', h, f)
    w['model.norm.weight'] = (np.ones(h, np.float32), None)
    if not c['tie_word_embeddings']:
        mat('lm_head.weight', c['vocab_size'], h, std=0.1)
    for name, (a, _) in w.items():
        assert np.array_equal(a.astype(np.float16).astype(np.float32), a), f'{name} is not exact in f16'
    return w


def write_safetensors(path, weights):
    header, offset, blobs = {}, 0, []
    for name, (a, _) in weights.items():
        b = a.astype(np.float16).tobytes()
        header[name] = {'dtype': 'F16', 'shape': list(a.shape), 'data_offsets': [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    header['__metadata__'] = {'format': 'pt'}
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_tokenizer(out, vocab_size):
    """A tokenizer whose token i is the text `<i>`: random weights have no real vocabulary, but with a tokenizer every
    generated token streams as its own chunk (Sieve's completions stream skips empty texts), which is how the bench
    times each token through the engine's public API."""
    vocab = {f'<{i}>': i for i in range(vocab_size)}
    tok = {
        'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': [], 'normalizer': None, 'pre_tokenizer': None,
        'post_processor': None, 'decoder': None,
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': None, 'end_of_word_suffix': None,
                  'fuse_unk': False, 'byte_fallback': False, 'ignore_merges': False, 'vocab': vocab, 'merges': []},
    }
    with open(os.path.join(out, 'tokenizer.json'), 'w') as f:
        json.dump(tok, f)
    with open(os.path.join(out, 'tokenizer_config.json'), 'w') as f:
        json.dump({'tokenizer_class': 'PreTrainedTokenizerFast', 'bos_token': None, 'eos_token': None, 'model_max_length': 1 << 20}, f)


# ---------------------------------------------------------------- rope

def inv_freq(c):
    """Rotary inverse frequencies as transformers computes them (default and llama3 rope types)."""
    d = c['head_dim']
    base = 1.0 / (c['rope_theta'] ** (np.arange(0, d, 2, dtype=np.float64) / d))
    s = c.get('rope_scaling')
    if not s or s.get('rope_type', s.get('type')) == 'default':
        return base
    assert s['rope_type'] == 'llama3', s
    factor, lo, hi, old = s['factor'], s['low_freq_factor'], s['high_freq_factor'], s['original_max_position_embeddings']
    low_wl, high_wl = old / lo, old / hi
    wl = 2 * math.pi / base
    out = np.where(wl > low_wl, base / factor, base)
    smooth = (old / wl - lo) / (hi - lo)
    smoothed = (1 - smooth) * out / factor + smooth * out
    mid = ~(wl < high_wl) & ~(wl > low_wl)
    return np.where(mid, smoothed, out)


# ---------------------------------------------------------------- onnx graph

class Graph:
    def __init__(self, dtype):
        self.nodes, self.inits, self.n = [], [], 0
        self.dtype = dtype  # 'f32' or 'f16': activations, KV and logits
        self.np = np.float32 if dtype == 'f32' else np.float16
        self.tp = TensorProto.FLOAT if dtype == 'f32' else TensorProto.FLOAT16

    def name(self, base):
        self.n += 1
        return f'/{base}_{self.n}'

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type, inputs, outputs=1, domain='', base=None, **attrs):
        names = [self.name((base or op_type) + f'/out{j}') for j in range(outputs)] if isinstance(outputs, int) else outputs
        self.nodes.append(helper.make_node(op_type, inputs, names, name=self.name(base or op_type), domain=domain, **attrs))
        return names[0] if len(names) == 1 else names


def linear(g, x, weights, name, quant, bias=None):
    a, q = weights[name]
    n, k = a.shape
    if quant:
        codes, scales = q
        packed = (codes.astype(np.int16) + 8).astype(np.uint8).reshape(n, k // BLOCK, BLOCK)
        packed = (packed[..., 0::2] | (packed[..., 1::2] << 4)).astype(np.uint8)  # low nibble first
        y = g.op('MatMulNBits', [x, g.init(name + '.q4', packed), g.init(name + '.scales', scales.reshape(-1).astype(g.np))],
                 domain='com.microsoft', K=k, N=n, bits=4, block_size=BLOCK, accuracy_level=0)
    else:
        y = g.op('MatMul', [x, g.init(name + '.T', np.ascontiguousarray(a.T).astype(g.np))])
    if bias is not None:
        y = g.op('Add', [y, g.init(bias, weights[bias][0].astype(g.np))])
    return y


def build_onnx(c, weights, dtype, quant):
    g = Graph(dtype)
    h, d, nh, kv, L = c['hidden_size'], c['head_dim'], c['num_attention_heads'], c['num_key_value_heads'], c['num_hidden_layers']
    eps = c['rms_norm_eps']
    inputs = [
        helper.make_tensor_value_info('input_ids', TensorProto.INT64, ['batch_size', 'sequence_length']),
        helper.make_tensor_value_info('attention_mask', TensorProto.INT64, ['batch_size', 'total_sequence_length']),
        helper.make_tensor_value_info('position_ids', TensorProto.INT64, ['batch_size', 'sequence_length']),
        # Logits of the last N positions only (newer onnx-community exports have it; Transformers.js feeds 1): a 16K
        # prompt's full logits would be 16K x vocab.
        helper.make_tensor_value_info('num_logits_to_keep', TensorProto.INT64, []),
    ]
    outputs = [helper.make_tensor_value_info('logits', g.tp, ['batch_size', 'sequence_length', c['vocab_size']])]
    for i in range(L):
        for kind in ('key', 'value'):
            inputs.append(helper.make_tensor_value_info(f'past_key_values.{i}.{kind}', g.tp, ['batch_size', kv, 'past_sequence_length', d]))
            outputs.append(helper.make_tensor_value_info(f'present.{i}.{kind}', g.tp, ['batch_size', kv, 'total_sequence_length', d]))

    # GroupQueryAttention's sequence lengths from the mask, as onnx-community's exports compute them.
    seqlens = g.op('Cast', [g.op('Sub', [g.op('ReduceSum', ['attention_mask', g.init('/one_axis', np.array([1], np.int64))], keepdims=0),
                                          g.init('/one_i64', np.array(1, np.int64))])], to=TensorProto.INT32)
    total = g.op('Cast', [g.op('Gather', [g.op('Shape', ['attention_mask']), g.init('/idx1', np.array(1, np.int64))], axis=0)], to=TensorProto.INT32)
    freqs = np.outer(np.arange(c['max_position_embeddings'], dtype=np.float64), inv_freq(c))
    cos = g.init('cos_cache', np.cos(freqs).astype(g.np))
    sin = g.init('sin_cache', np.sin(freqs).astype(g.np))

    emb = weights['model.embed_tokens.weight'][0]
    residual = g.op('Gather', [g.init('model.embed_tokens.weight', emb.astype(g.np)), 'input_ids'], axis=0)
    x = g.op('SimplifiedLayerNormalization', [residual, g.init('model.layers.0.input_layernorm.weight', weights['model.layers.0.input_layernorm.weight'][0].astype(g.np))],
             axis=-1, epsilon=eps, base='input_layernorm')
    for i in range(L):
        p = f'model.layers.{i}.'
        bias = (lambda n: p + f'self_attn.{n}_proj.bias') if c['attention_bias'] else (lambda n: None)
        q = linear(g, x, weights, p + 'self_attn.q_proj.weight', quant, bias('q'))
        k = linear(g, x, weights, p + 'self_attn.k_proj.weight', quant, bias('k'))
        v = linear(g, x, weights, p + 'self_attn.v_proj.weight', quant, bias('v'))
        q = g.op('RotaryEmbedding', [q, 'position_ids', cos, sin], domain='com.microsoft', interleaved=0, num_heads=nh, rotary_embedding_dim=d)
        k = g.op('RotaryEmbedding', [k, 'position_ids', cos, sin], domain='com.microsoft', interleaved=0, num_heads=kv, rotary_embedding_dim=d)
        attn = g.op('GroupQueryAttention', [q, k, v, f'past_key_values.{i}.key', f'past_key_values.{i}.value', seqlens, total],
                    outputs=[g.name('attn'), f'present.{i}.key', f'present.{i}.value'],
                    domain='com.microsoft', num_heads=nh, kv_num_heads=kv, scale=1.0 / math.sqrt(d))[0]
        o = linear(g, attn, weights, p + 'self_attn.o_proj.weight', quant)
        norm = g.init(p + 'post_attention_layernorm.weight', weights[p + 'post_attention_layernorm.weight'][0].astype(g.np))
        x, _, _, residual = g.op('SkipSimplifiedLayerNormalization', [o, residual, norm], outputs=4, domain='com.microsoft', epsilon=eps)
        gate = linear(g, x, weights, p + 'mlp.gate_proj.weight', quant)
        up = linear(g, x, weights, p + 'mlp.up_proj.weight', quant)
        act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up])
        down = linear(g, act, weights, p + 'mlp.down_proj.weight', quant)
        nxt = f'model.layers.{i + 1}.input_layernorm.weight' if i + 1 < L else 'model.norm.weight'
        norm = g.init(nxt, weights[nxt][0].astype(g.np))
        x, _, _, residual = g.op('SkipSimplifiedLayerNormalization', [down, residual, norm], outputs=4, domain='com.microsoft', epsilon=eps)
    head = 'model.embed_tokens.weight' if c['tie_word_embeddings'] else 'lm_head.weight'
    if quant:
        codes, scales = weights[head][1]
        weights = dict(weights)
        weights['lm_head.q'] = weights[head]
        head = 'lm_head.q'
    keep = g.op('Neg', [g.op('Unsqueeze', ['num_logits_to_keep', g.init('/axis0', np.array([0], np.int64))])])
    x = g.op('Slice', [x, keep, g.init('/int64_max', np.array([2**63 - 1], np.int64)), g.init('/axis1', np.array([1], np.int64))])
    logits = linear(g, x, weights, head, quant)
    g.nodes.append(helper.make_node('Identity', [logits], ['logits'], name='/logits'))
    graph = helper.make_graph(g.nodes, 'sieve-compare', inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17), helper.make_opsetid('com.microsoft', 1)],
                              producer_name='sieve bench/compare/export')
    model.ir_version = 8
    return model


def save_onnx(model, path, chunk_bytes=1 << 31, external_over=int(os.environ.get('EXPORT_EXTERNAL_OVER', 1 << 30))):
    """Weights go to external data chunks (model.onnx_data, model.onnx_data_1, ... as Transformers.js names them)
    when the model is over 1 GiB; returns the number of chunks."""
    total = sum(t.ByteSize() for t in model.graph.initializer)
    if total < external_over:
        onnx.save(model, path)
        return 0
    base = os.path.basename(path)
    chunk, offset, files = 0, 0, [open(path + '_data', 'wb')]
    for t in model.graph.initializer:
        raw = t.raw_data
        if len(raw) < 1024:
            continue
        if offset + len(raw) > chunk_bytes and offset > 0:
            chunk += 1
            offset = 0
            files.append(open(f'{path}_data_{chunk}', 'wb'))
        files[-1].write(raw)
        location = base + '_data' + ('' if chunk == 0 else f'_{chunk}')
        t.ClearField('raw_data')
        t.data_location = TensorProto.EXTERNAL
        for k, v in (('location', location), ('offset', str(offset)), ('length', str(len(raw)))):
            e = t.external_data.add()
            e.key, e.value = k, v
        offset += len(raw)
    for f in files:
        f.close()
    onnx.save(model, path)
    return chunk + 1


def op_histogram(model):
    return dict(sorted(Counter((n.domain + '.' if n.domain else '') + n.op_type for n in model.graph.node).items()))


# ---------------------------------------------------------------- golden

def golden_ids(out, prompts, n):
    """transformers' greedy ids on the checkpoint (f32 compute, EOS ignored): what every engine must reproduce.

    Of the candidate prompts, the one whose n greedy steps have the largest smallest top-2 margin (relative to the
    step's largest |logit|): the engines that compute in f16 (Transformers.js fp16, WebLLM q0f16) round each
    activation to 11 bits, and a step whose two best logits are closer than that rounding is a coin toss, not a test.
    Returns the prompt, its ids, every step's margin and the versions."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = AutoModelForCausalLM.from_pretrained(out, torch_dtype=torch.float32).to(device).eval()
    best = None
    for prompt in prompts:
        with torch.no_grad():
            g = model.generate(torch.tensor([prompt], device=device), max_new_tokens=n, min_new_tokens=n, do_sample=False,
                               eos_token_id=None, pad_token_id=0, output_scores=True, return_dict_in_generate=True)
        scores = torch.stack([s[0].float() for s in g.scores])  # [n, vocab]
        top = scores.topk(2, dim=-1).values
        margins = ((top[:, 0] - top[:, 1]) / scores.abs().amax(dim=-1)).tolist()
        ids = g.sequences[0, len(prompt):].tolist()
        print('golden candidate', prompt, ids, 'smallest relative top-2 margin', round(min(margins), 5), flush=True)
        if best is None or min(margins) > min(best[2]):
            best = (prompt, ids, margins)
    prompt, ids, margins = best
    return prompt, ids, [round(m, 6) for m in margins], {'torch': torch.__version__, 'transformers': transformers.__version__, 'device': device}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True, help='a models/catalog.json id, or tiny')
    ap.add_argument('--out', required=True)
    ap.add_argument('--formats', default='fp32,fp16,q4', help='of fp32, fp16, q4')
    ap.add_argument('--context', type=int, default=0, help='max_position_embeddings cap (the rope tables and KV pool)')
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--catalog', default=os.path.join(ROOT, 'models', 'catalog.json'))
    ap.add_argument('--golden', type=int, default=0, help='record transformers\' first N greedy ids (needs torch)')
    ap.add_argument('--prompt', default='1,5,9,13,17,21,25,29', help='the first candidate prompt of the golden')
    ap.add_argument('--candidates', type=int, default=4, help='golden prompts tried (the first, then seeded ones): the one with the largest margins wins')
    a = ap.parse_args()
    c = full_config(catalog_config(a.model, a.catalog), a.context)
    os.makedirs(os.path.join(a.out, 'onnx'), exist_ok=True)
    weights = make_weights(c, a.seed)
    write_safetensors(os.path.join(a.out, 'model.safetensors'), weights)
    with open(os.path.join(a.out, 'config.json'), 'w') as f:
        json.dump(c, f, indent=2)
    write_tokenizer(a.out, c['vocab_size'])
    with open(os.path.join(a.out, 'generation_config.json'), 'w') as f:
        json.dump({'bos_token_id': 1, 'eos_token_id': 2, 'do_sample': False}, f, indent=2)
    info = {'model': a.model, 'seed': a.seed, 'config': c, 'exports': {}}
    for fmt in a.formats.split(','):
        dtype, quant = {'fp32': ('f32', False), 'fp16': ('f16', False), 'q4': ('f32', True)}[fmt]
        model = build_onnx(c, weights, dtype, quant)
        path = os.path.join(a.out, 'onnx', {'fp32': 'model.onnx', 'fp16': 'model_fp16.onnx', 'q4': 'model_q4.onnx'}[fmt])
        chunks = save_onnx(model, path)
        size = sum(os.path.getsize(os.path.join(a.out, 'onnx', n)) for n in os.listdir(os.path.join(a.out, 'onnx')) if n.startswith(os.path.basename(path)))
        info['exports'][fmt] = {'file': os.path.relpath(path, a.out), 'bytes': size, 'externalDataChunks': chunks, 'ops': op_histogram(model)}
        print(fmt, size, chunks, op_histogram(model), flush=True)
    if a.golden:
        first = [int(x) for x in a.prompt.split(',')]
        rng = np.random.default_rng(a.seed + 1)
        candidates = [first] + [[int(x) for x in rng.integers(3, c['vocab_size'], size=len(first))] for _ in range(a.candidates - 1)]
        prompt, ids, margins, versions = golden_ids(a.out, candidates, a.golden)
        info['golden'] = {'prompt': prompt, 'ids': ids, 'relativeMargins': margins, 'candidates': len(candidates), 'by': versions}
        print('golden', prompt, ids, 'smallest relative top-2 margin', min(margins), flush=True)
    info['versions'] = {'python': sys.version.split()[0], 'numpy': np.__version__, 'onnx': onnx.__version__}
    with open(os.path.join(a.out, 'export.json'), 'w') as f:
        json.dump(info, f, indent=1)


if __name__ == '__main__':
    main()
