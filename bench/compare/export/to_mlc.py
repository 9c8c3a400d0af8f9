#!/usr/bin/env python3
"""A Hugging Face checkpoint written by export.py, converted to MLC's layout for WebLLM (numpy only).

  python3 to_mlc.py --model DIR --lib LIB.wasm --format fp16   (the yardstick cell it joins; recorded in export.json)

LIB.wasm is a prebuilt WebGPU model library from mlc-ai/binary-mlc-llm-libs (never committed). The library says what
it expects: its embedded metadata lists every parameter (name, shape, dtype) in the order it binds them, and its
quantization and context. This script builds exactly those from the checkpoint (q_proj/k_proj/v_proj rows
concatenated as MLC's fused `c_attn` (qwen2) or `qkv_proj` (llama), gate_proj and up_proj as `gate_up_proj`), checks
every shape, casts to the library's dtype (q0f32 / q0f16: unquantized, so the numbers are the checkpoint's exactly:
export.py's weights are exact in f16), and writes under DIR/mlc-<quantization>/resolve/main/ (the URL shape WebLLM's
model records resolve), and records it as export.json's mlc[<format>]:
  mlc-chat-config.json    the library's model type, quantization and context, no system prompt, no prefix tokens
  ndarray-cache.json      WebLLM 0.2.79's parameter index (records of raw shards, byte offsets, dtypes)
  params_shard_N.bin      the parameters, about 32 MiB a shard
  tokenizer.json          a word-level tokenizer whose token i is the text `<i>` split on spaces: WebLLM's text
                          completion API then takes `<a> <b> ...` as exactly the ids a, b, ... and streams ids back
  model.wasm              the library, served beside the weights
Quantized libraries (q4f16_1, q4f32_1) are refused: MLC's 4-bit groups hold codes -7..7 and export.py's q4-exact
weights use -8, so they could not hold the same weights.
"""
import argparse
import json
import os
import re
import shutil
import struct

import numpy as np

SHARD_BYTES = 32 << 20


def lib_metadata(lib_path):
    """The JSON metadata MLC compiles into a model library (the `_metadata` function's string constant)."""
    blob = open(lib_path, 'rb').read()
    at = blob.find(b'{"model_type"')
    if at < 0:
        raise SystemExit(f'{lib_path}: no MLC metadata found (not an MLC model library?)')
    # The JSON object ends where its braces balance (strings in it hold no braces).
    depth = 0
    for end in range(at, len(blob)):
        c = blob[end]
        if c == ord('{'):
            depth += 1
        elif c == ord('}'):
            depth -= 1
            if depth == 0:
                return json.loads(blob[at:end + 1])
    raise SystemExit(f'{lib_path}: unterminated metadata')


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
    data = np.memmap(path, dtype=np.uint8, mode='r')
    dtypes = {'F16': np.float16, 'F32': np.float32, 'BF16': None}
    out = {}
    for name, h in header.items():
        if name == '__metadata__':
            continue
        dt = dtypes[h['dtype']]
        if dt is None:
            raise SystemExit(f'{name}: bf16 is not handled here')
        a, b = h['data_offsets']
        out[name] = np.frombuffer(data[base + a:base + b], dtype=dt).reshape(h['shape'])
    return out


def mlc_tensor(name, hf):
    """The MLC parameter `name` from the Hugging Face tensors (fused projections concatenated along rows)."""
    m = re.match(r'(.*\.self_attn)\.(c_attn|qkv_proj)\.(weight|bias)$', name)
    if m:
        return np.concatenate([hf[f'{m.group(1)}.{p}_proj.{m.group(3)}'] for p in 'qkv'], axis=0)
    m = re.match(r'(.*\.mlp)\.gate_up_proj\.weight$', name)
    if m:
        return np.concatenate([hf[f'{m.group(1)}.gate_proj.weight'], hf[f'{m.group(1)}.up_proj.weight']], axis=0)
    if name == 'lm_head.weight' and name not in hf:
        return hf['model.embed_tokens.weight']
    return hf[name]


def concrete_shape(p, c):
    """The parameter's shape with the library's symbolic dimensions (Llama-3.2-1B's q0f16 library has
    ['vocab_size', 2048] for the embedding: it takes the vocabulary from mlc-chat-config.json) taken from the config."""
    out = []
    for d in p['shape']:
        if isinstance(d, str):
            if d not in c:
                raise SystemExit(f"{p['name']}: the library's dimension {d!r} is not in config.json")
            d = c[d]
        out.append(int(d))
    return out


def hf_layout(c):
    """The checkpoint's tensors as export.py names and shapes them (transformers' llama / qwen2 layout), as zero-stride
    arrays: --check resolves every library parameter from these without the gigabytes of a real checkpoint."""
    h, f, d = c['hidden_size'], c['intermediate_size'], c.get('head_dim') or c['hidden_size'] // c['num_attention_heads']
    nh, kv = c['num_attention_heads'], c['num_key_value_heads']
    z = lambda *shape: np.broadcast_to(np.float16(0), shape)
    hf = {'model.embed_tokens.weight': z(c['vocab_size'], h), 'model.norm.weight': z(h)}
    for i in range(c['num_hidden_layers']):
        p = f'model.layers.{i}.'
        hf.update({p + 'input_layernorm.weight': z(h), p + 'post_attention_layernorm.weight': z(h),
                   p + 'self_attn.q_proj.weight': z(nh * d, h), p + 'self_attn.k_proj.weight': z(kv * d, h),
                   p + 'self_attn.v_proj.weight': z(kv * d, h), p + 'self_attn.o_proj.weight': z(h, nh * d),
                   p + 'mlp.gate_proj.weight': z(f, h), p + 'mlp.up_proj.weight': z(f, h), p + 'mlp.down_proj.weight': z(h, f)})
        if c.get('attention_bias', c['model_type'] == 'qwen2'):
            hf.update({p + 'self_attn.q_proj.bias': z(nh * d), p + 'self_attn.k_proj.bias': z(kv * d), p + 'self_attn.v_proj.bias': z(kv * d)})
    if not c.get('tie_word_embeddings', False):
        hf['lm_head.weight'] = z(c['vocab_size'], h)
    return hf


def check(lib, c):
    """Whether every parameter the library binds builds from a checkpoint of config `c` with the library's shape:
    the conversion's dry run (the yardstick's dry run calls it for each library the carry holds)."""
    meta = lib_metadata(lib)
    if c['model_type'] != meta['model_type']:
        raise SystemExit(f"the library is for {meta['model_type']}, the config is {c['model_type']}")
    if not meta['quantization'].startswith('q0'):
        raise SystemExit(f"{meta['quantization']}: not an unquantized library")
    hf, n = hf_layout(c), 0
    for p in meta['params']:
        t = mlc_tensor(p['name'], hf)
        want = concrete_shape(p, c)
        if list(t.shape) != want:
            raise SystemExit(f"{p['name']}: the library wants {want}, the checkpoint gives {list(t.shape)}")
        n += int(np.prod(want))
    kvc = meta.get('kv_cache', {})
    want = {'num_hidden_layers': c['num_hidden_layers'], 'num_attention_heads': c['num_attention_heads'], 'num_key_value_heads': c['num_key_value_heads'],
            'head_dim': c.get('head_dim') or c['hidden_size'] // c['num_attention_heads']}
    for k, v in want.items():
        if k in kvc and kvc[k] != v:
            raise SystemExit(f'the library\'s KV cache has {k} {kvc[k]}, the config {v}')
    print(f"{os.path.basename(lib)}: {meta['model_type']} {meta['quantization']}, {len(meta['params'])} parameters "
          f"({n} values) all build from the checkpoint's tensors with the library's shapes; context {meta['context_window_size']}")


def write_tokenizer(out, vocab_size):
    tok = {
        'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': [], 'normalizer': None,
        'pre_tokenizer': {'type': 'WhitespaceSplit'}, 'post_processor': None, 'decoder': None,
        'model': {'type': 'WordLevel', 'vocab': {f'<{i}>': i for i in range(vocab_size)}, 'unk_token': '<0>'},
    }
    with open(os.path.join(out, 'tokenizer.json'), 'w') as f:
        json.dump(tok, f)


def chat_config(meta, c):
    return {
        'version': '0.1.0', 'model_type': meta['model_type'], 'quantization': meta['quantization'],
        'model_config': {k: c[k] for k in ('hidden_size', 'intermediate_size', 'num_attention_heads', 'num_hidden_layers',
                                          'num_key_value_heads', 'rms_norm_eps', 'rope_theta', 'vocab_size', 'head_dim',
                                          'tie_word_embeddings') if k in c},
        'vocab_size': c['vocab_size'], 'context_window_size': meta['context_window_size'],
        'sliding_window_size': meta.get('sliding_window_size', -1), 'prefill_chunk_size': meta['prefill_chunk_size'],
        'attention_sink_size': meta.get('attention_sink_size', -1), 'tensor_parallel_shards': 1,
        'temperature': 0.0, 'presence_penalty': 0.0, 'frequency_penalty': 0.0, 'repetition_penalty': 1.0, 'top_p': 1.0,
        'tokenizer_files': ['tokenizer.json'],
        'tokenizer_info': {'token_postproc_method': 'byte_fallback', 'prepend_space_in_encode': False, 'strip_space_in_decode': False},
        'conv_template': {
            'name': 'sieve-raw', 'system_template': '{system_message}', 'system_message': '', 'system_prefix_token_ids': None,
            'add_role_after_system_message': False, 'roles': {'user': '', 'assistant': ''},
            'role_templates': {'user': '{user_message}', 'assistant': '{assistant_message}', 'tool': '{tool_message}'},
            'messages': [], 'seps': [' '], 'role_content_sep': '', 'role_empty_sep': '', 'stop_str': [], 'stop_token_ids': [],
            'function_calling_template': '', 'use_function_calling': False,
        },
        'pad_token_id': 0, 'bos_token_id': c.get('bos_token_id', 1), 'eos_token_id': c.get('eos_token_id', 2),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', help='a folder written by export.py (config.json, model.safetensors)')
    ap.add_argument('--lib', required=True, help='the prebuilt MLC WebGPU model library (.wasm)')
    ap.add_argument('--format', help='the cell (fp32, fp16) WebLLM joins with this library')
    ap.add_argument('--check', metavar='CONFIG', help='only check that a checkpoint of this config.json (or a models/catalog.json '
                    'id) converts for the library: every parameter and shape, nothing written')
    a = ap.parse_args()
    if a.check:
        if os.path.exists(a.check):
            c = json.load(open(a.check))
        else:
            root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..')
            models = json.load(open(os.path.join(root, 'models', 'catalog.json')))['models']
            c = next((m['config'] for m in models if m['id'] == a.check), None)
            if c is None:
                raise SystemExit(f'--check {a.check}: neither a config.json nor a models/catalog.json id')
        check(a.lib, c)
        return
    if not a.model or not a.format:
        ap.error('--model and --format are needed (or --check CONFIG)')
    meta = lib_metadata(a.lib)
    rel = f"mlc-{meta['quantization']}/resolve/main/"
    out = os.path.join(a.model, rel)
    if not meta['quantization'].startswith('q0'):
        raise SystemExit(f"{meta['quantization']}: MLC's 4-bit groups cannot hold export.py's q4-exact codes (-8); use a q0f32 or q0f16 library")
    c = json.load(open(os.path.join(a.model, 'config.json')))
    if c['model_type'] != meta['model_type']:
        raise SystemExit(f"the library is for {meta['model_type']}, the checkpoint is {c['model_type']}")
    hf = read_safetensors(os.path.join(a.model, 'model.safetensors'))
    os.makedirs(out, exist_ok=True)
    shards, records, blob, offset, total = [], [], open(os.path.join(out, 'params_shard_0.bin'), 'wb'), 0, 0

    def close_shard():
        shards.append({'dataPath': f'params_shard_{len(shards)}.bin', 'format': 'raw-shard', 'nbytes': offset, 'records': list(records), 'md5sum': ''})

    for p in meta['params']:
        if p.get('preprocs'):
            raise SystemExit(f"{p['name']}: preprocessing {p['preprocs']} is not handled")
        t = mlc_tensor(p['name'], hf)
        shape = concrete_shape(p, c)
        if list(t.shape) != shape:
            raise SystemExit(f"{p['name']}: the library wants {shape}, the checkpoint gives {list(t.shape)}")
        b = np.ascontiguousarray(t.astype({'float32': np.float32, 'float16': np.float16}[p['dtype']])).tobytes()
        if offset > 0 and offset + len(b) > SHARD_BYTES:
            close_shard()
            blob.close()
            records.clear()
            offset = 0
            blob = open(os.path.join(out, f'params_shard_{len(shards)}.bin'), 'wb')
        blob.write(b)
        records.append({'name': p['name'], 'shape': shape, 'dtype': p['dtype'], 'format': 'raw', 'nbytes': len(b), 'byteOffset': offset})
        offset += len(b)
        total += len(b)
    close_shard()
    blob.close()
    n = sum(int(np.prod(concrete_shape(p, c))) for p in meta['params'])
    with open(os.path.join(out, 'ndarray-cache.json'), 'w') as f:
        json.dump({'metadata': {'ParamSize': n, 'ParamBytes': total, 'BitsPerParam': 8 * total / n}, 'records': shards}, f)
    with open(os.path.join(out, 'mlc-chat-config.json'), 'w') as f:
        json.dump(chat_config(meta, c), f, indent=1)
    write_tokenizer(out, c['vocab_size'])
    shutil.copyfile(a.lib, os.path.join(out, 'model.wasm'))
    info_path = os.path.join(a.model, 'export.json')
    info = json.load(open(info_path))
    info.setdefault('mlc', {})[a.format] = {'dir': rel, 'quantization': meta['quantization'], 'lib': os.path.basename(a.lib), 'bytes': total,
                                            'contextWindow': meta['context_window_size'], 'prefillChunk': meta['prefill_chunk_size']}
    with open(info_path, 'w') as f:
        json.dump(info, f, indent=1)
    print(f"{out}: {meta['model_type']} {meta['quantization']}, {len(meta['params'])} parameters, {total} bytes in {len(shards)} shards")


if __name__ == '__main__':
    main()
