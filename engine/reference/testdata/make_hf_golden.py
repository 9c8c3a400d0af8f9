# Makes hf-golden.json: Hugging Face transformers logits (f32, CPU, eager attention) of tiny synthetic Llama / Qwen2 / Qwen3
# models whose weights come from a counter hash that reference-hf.test.ts recomputes bit for bit.
# Usage: python3 make_hf_golden.py OUT.json   (needs torch and transformers; no network, no downloads)
import json
import math
import sys

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config, Qwen3Config

M32 = 0xFFFFFFFF


def fnv1a32(text):
    h = 0x811C9DC5
    for b in text.encode():
        h = ((h ^ b) * 0x01000193) & M32
    return h


def lowbias32(x):
    x = x.astype(np.uint64)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & np.uint64(M32)
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & np.uint64(M32)
    x ^= x >> np.uint64(16)
    return x


def unit_values(name, count):
    """count values in [-1, 1): multiples of 2^-23 from a 24-bit hash of (name, index)."""
    i = np.arange(count, dtype=np.uint64)
    h = lowbias32((np.uint64(fnv1a32(name)) + i * np.uint64(0x9E3779B9)) & np.uint64(M32))
    return ((h >> np.uint64(8)).astype(np.float64) - 2.0**23) * 2.0**-23


def synthetic(name, shape):
    count = int(np.prod(shape))
    v = unit_values(name, count)
    if name.endswith('norm.weight'):
        out = 1.0 + 0.25 * v
    elif name.endswith('.bias'):
        out = 0.5 * v
    elif name == 'model.embed_tokens.weight':
        out = v
    else:
        fan_in = shape[-1]
        out = v * 2.0 ** -math.ceil(math.log2(fan_in) / 2)
    return out.astype(np.float32).reshape(shape)


CASES = [
    {
        'name': 'llama-head-dim-llama3-rope-untied',
        'cls': LlamaConfig,
        'config': {
            'model_type': 'llama', 'vocab_size': 64, 'hidden_size': 48, 'intermediate_size': 80, 'num_hidden_layers': 2,
            'num_attention_heads': 4, 'num_key_value_heads': 2, 'head_dim': 16, 'rms_norm_eps': 1e-5,
            'rope_theta': 10000.0, 'max_position_embeddings': 128, 'tie_word_embeddings': False,
            'rope_scaling': {'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
                             'original_max_position_embeddings': 16},
            'hidden_act': 'silu', 'attention_bias': False, 'bos_token_id': 1, 'eos_token_id': 2,
        },
    },
    {
        'name': 'qwen2-bias-tied',
        'cls': Qwen2Config,
        'config': {
            'model_type': 'qwen2', 'vocab_size': 64, 'hidden_size': 32, 'intermediate_size': 64, 'num_hidden_layers': 2,
            'num_attention_heads': 4, 'num_key_value_heads': 2, 'rms_norm_eps': 1e-6, 'rope_theta': 1000000.0,
            'max_position_embeddings': 128, 'tie_word_embeddings': True, 'hidden_act': 'silu',
            'use_sliding_window': False, 'bos_token_id': 1, 'eos_token_id': 2,
        },
    },
    {
        'name': 'qwen3-qk-norm-head-dim',
        'cls': Qwen3Config,
        'config': {
            'model_type': 'qwen3', 'vocab_size': 64, 'hidden_size': 32, 'intermediate_size': 64, 'num_hidden_layers': 2,
            'num_attention_heads': 4, 'num_key_value_heads': 1, 'head_dim': 16, 'rms_norm_eps': 1e-6,
            'rope_theta': 1000000.0, 'max_position_embeddings': 128, 'tie_word_embeddings': False,
            'hidden_act': 'silu', 'attention_bias': False, 'use_sliding_window': False, 'bos_token_id': 1,
            'eos_token_id': 2,
        },
    },
]

SEQUENCE_LENGTH = 24


def main(out_path):
    torch.manual_seed(0)
    results = []
    for case in CASES:
        kwargs = {k: v for k, v in case['config'].items() if k != 'model_type'}
        config = case['cls'](**kwargs)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation='eager').eval()
        names = []
        for name, p in model.named_parameters():
            p.data.copy_(torch.from_numpy(synthetic(name, tuple(p.shape))))
            names.append(name)
        if case['config']['tie_word_embeddings']:
            assert torch.equal(model.lm_head.weight, model.model.embed_tokens.weight)
        ids = [(i * 37 + 5) % case['config']['vocab_size'] for i in range(SEQUENCE_LENGTH)]
        with torch.no_grad():
            logits = model(torch.tensor([ids]), use_cache=False).logits[0].float().numpy()
        results.append({
            'name': case['name'], 'config': case['config'], 'parameters': names, 'ids': ids,
            'logits': [float(x) for x in logits.reshape(-1)],
        })
        print(case['name'], 'logit range', float(logits.min()), float(logits.max()))
    with open(out_path, 'w') as f:
        json.dump({'transformers': transformers.__version__, 'torch': torch.__version__, 'cases': results}, f)


if __name__ == '__main__':
    main(sys.argv[1])
