"""Makes the golden fixtures in models/golden/: tiny random checkpoints saved by Hugging Face transformers, with
transformers' own float32 logits and greedy continuations for them, so the engine can be checked against the
library that defines the architectures.

Each case (CASES below) is built from a transformers config (LlamaConfig / Qwen2Config / Qwen3Config), given
seeded random weights, saved with save_pretrained (safetensors, f32 / f16 / bf16), then RELOADED from its own
folder in float32 with attn_implementation="eager", and only that reloaded model computes the fixtures. So the
logits are exactly what transformers computes from the checkpoint on disk (f16/bf16 weights rounded first, then
upcast to f32 exactly), never from the unrounded in-memory weights.

Weights: torch.manual_seed(seed), then every parameter in name order (sorted, tied ones once) is drawn from
normal(0, INIT_STD); norm weights (every "*norm.weight": input/post-attention/final RMSNorm and qwen3's q/k norm)
get 1 + normal(0, INIT_STD) so they are not trivial; biases normal(0, INIT_STD). Token ids: a torch.Generator
seeded with seed + 1, NUM_TOKENS ids uniform in [0, vocab). Everything runs on the CPU in float32, so the files
depend only on the seeds and the transformers / torch versions (recorded in meta.json).

Files per case folder (models/golden/<case>/):
  config.json, generation_config.json (as save_pretrained writes them; llama-legacy-config's config.json is then
      rewritten into the transformers-4 form that hub checkpoints carry, see legacy_config below),
  model.safetensors or model-0000k-of-0000n.safetensors + model.safetensors.index.json,
  ids.json       JSON array of NUM_TOKENS token ids,
  logits.f32     little-endian float32, shape [NUM_TOKENS, vocab], row t = logits after ids[0..t] (one prefill),
  greedy.json    {"prompt": first GREEDY_PROMPT ids, "continuation": GREEDY_NEW ids from generate(do_sample=False)
                  with EOS stopping disabled, ...},
  meta.json      seeds, architecture, dtype, versions, max |logit|, RoPE inv_freq, per-case checks.

Run (needs torch and transformers; CPU is enough):
  python3 models/golden/make_golden.py --out /tmp/golden        # then copy /tmp/golden/* into models/golden/
"""

import argparse
import copy
import json
import math
import os
import shutil
import struct
import sys

INIT_STD = 0.08
NUM_TOKENS = 300
GREEDY_PROMPT = 10
GREEDY_NEW = 20
VOCAB = 512
# Every case supports at least this many positions (the engine's long-context tests go past NUM_TOKENS).
MAX_POSITIONS = 1024
# The llama3 case must tell scaled from unscaled RoPE by far more than the engine tests' 2e-3 tolerance.
ROPE_SCALING_MIN_EFFECT = 0.02

CASES = [
    {
        'name': 'llama-gqa-untied',
        'about': 'Llama with grouped-query attention (6 query heads share 2 KV heads), untied lm_head, f32 weights.',
        'arch': 'llama', 'seed': 1001, 'dtype': 'float32',
        'config': dict(vocab_size=VOCAB, hidden_size=96, intermediate_size=160, num_hidden_layers=3,
                       num_attention_heads=6, num_key_value_heads=2, rms_norm_eps=1e-5,
                       max_position_embeddings=MAX_POSITIONS, tie_word_embeddings=False,
                       rope_parameters={'rope_type': 'default', 'rope_theta': 10000.0}),
    },
    {
        'name': 'llama3-rope',
        'about': ('Llama 3.1-style RoPE scaling (llama3: factor 8, low/high freq factors 1/4, original context 64, '
                  'theta 500000), explicit head_dim 24 != hidden/heads = 16, tied embeddings (no lm_head in the '
                  'file), 2 KV heads, bf16 weights.'),
        'arch': 'llama', 'seed': 2002, 'dtype': 'bfloat16',
        'config': dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=24, rms_norm_eps=1e-5,
                       max_position_embeddings=MAX_POSITIONS, tie_word_embeddings=True,
                       rope_parameters={'rope_type': 'llama3', 'rope_theta': 500000.0, 'factor': 8.0,
                                        'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
                                        'original_max_position_embeddings': 64}),
    },
    {
        'name': 'qwen2',
        'about': 'Qwen2 with q/k/v biases, 4 heads over 2 KV heads, f16 weights saved in several shards (index file).',
        'arch': 'qwen2', 'seed': 3003, 'dtype': 'float16',
        # Small enough that the ~280 KB of f16 weights span 2-3 files.
        'max_shard_size': 120_000,
        'config': dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6,
                       max_position_embeddings=MAX_POSITIONS, tie_word_embeddings=False,
                       rope_parameters={'rope_type': 'default', 'rope_theta': 1000000.0}),
    },
    {
        'name': 'qwen3',
        'about': 'Qwen3 with per-head RMSNorm on q and k, head_dim 32 != hidden/heads = 16, untied, f32 weights.',
        'arch': 'qwen3', 'seed': 4004, 'dtype': 'float32',
        'config': dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=32, rms_norm_eps=1e-6,
                       max_position_embeddings=MAX_POSITIONS, tie_word_embeddings=False,
                       rope_parameters={'rope_type': 'default', 'rope_theta': 1000000.0}),
    },
    {
        'name': 'llama-legacy-config',
        'about': ('The llama-gqa-untied shapes with another seed and rope_theta 25000 (not the default, so a loader '
                  'that misses the top-level rope_theta fails), its config.json rewritten into the transformers-4 '
                  'hub form: rope_theta / rope_scaling at the top, torch_dtype instead of dtype.'),
        'arch': 'llama', 'seed': 5005, 'dtype': 'float32', 'legacy_config': True,
        'config': dict(vocab_size=VOCAB, hidden_size=96, intermediate_size=160, num_hidden_layers=3,
                       num_attention_heads=6, num_key_value_heads=2, rms_norm_eps=1e-5,
                       max_position_embeddings=MAX_POSITIONS, tie_word_embeddings=False,
                       rope_parameters={'rope_type': 'default', 'rope_theta': 25000.0}),
    },
]


# ---- pieces that need no torch (checked locally with plain python3) ----

def legacy_config(cfg):
    """transformers-5 config.json dict -> the transformers-4 form hub checkpoints carry.

    transformers 5 keeps RoPE in rope_parameters {rope_type, rope_theta, ...} and the weight dtype in "dtype";
    hub files written by transformers 4 have rope_theta at the top, rope_scaling (null, or the scaling dict without
    rope_theta) and "torch_dtype". Every other key is kept as it is.
    """
    out = dict(cfg)
    if 'dtype' in out:
        out['torch_dtype'] = out.pop('dtype')
    rope = out.pop('rope_parameters', None)
    if rope is not None:
        rope = dict(rope)
        if 'rope_theta' in rope:
            out['rope_theta'] = rope.pop('rope_theta')
        if 'partial_rotary_factor' in rope:
            out['partial_rotary_factor'] = rope.pop('partial_rotary_factor')
        rope_type = rope.get('rope_type', rope.get('type', 'default'))
        out['rope_scaling'] = None if rope_type == 'default' and set(rope) <= {'rope_type', 'type'} else rope
    return dict(sorted(out.items()))


def safetensors_header(path):
    """The JSON header of a .safetensors file: {name: {dtype, shape, data_offsets}, "__metadata__": ...}."""
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        return json.loads(f.read(n))


def checkpoint_tensors(folder):
    """{tensor name: (file, dtype, shape)} over the single file or every shard of the index."""
    index = os.path.join(folder, 'model.safetensors.index.json')
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)['weight_map'].values()))
    else:
        files = ['model.safetensors']
    out = {}
    for file in files:
        for name, info in safetensors_header(os.path.join(folder, file)).items():
            if name != '__metadata__':
                out[name] = (file, info['dtype'], info['shape'])
    return out


def write_json(path, value):
    with open(path, 'w') as f:
        json.dump(value, f, indent=2)
        f.write('\n')


# ---- the torch part ----

def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='folder to write one sub-folder per case into')
    parser.add_argument('--cases', nargs='*', help='case names (default: all)')
    args = parser.parse_args()

    import numpy as np
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config, Qwen3Config

    torch.set_grad_enabled(False)
    config_classes = {'llama': LlamaConfig, 'qwen2': Qwen2Config, 'qwen3': Qwen3Config}
    torch_dtypes = {'float32': torch.float32, 'float16': torch.float16, 'bfloat16': torch.bfloat16}
    st_dtypes = {'float32': 'F32', 'float16': 'F16', 'bfloat16': 'BF16'}
    print(f'transformers {transformers.__version__}, torch {torch.__version__}, numpy {np.__version__}', flush=True)

    def new_model(config):
        try:
            model = AutoModelForCausalLM.from_config(config, attn_implementation='eager')
        except TypeError:
            config._attn_implementation = 'eager'
            model = AutoModelForCausalLM.from_config(config)
        return model.float().eval()

    def load(folder):
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation='eager')
        impl = getattr(model.config, '_attn_implementation', None)
        assert impl == 'eager', f'{folder}: attention implementation is {impl}, wanted eager'
        assert all(p.dtype == torch.float32 for p in model.parameters()), f'{folder}: not all weights are f32'
        return model.eval()

    def fill_weights(model, seed):
        torch.manual_seed(seed)
        named = sorted(model.named_parameters(), key=lambda kv: kv[0])  # tied weights appear once
        for name, p in named:
            p.normal_(0.0, INIT_STD)
            if name.endswith('norm.weight'):
                p.add_(1.0)
        return [name for name, _ in named]

    def logits_of(model, ids):
        out = model(input_ids=ids[None, :], use_cache=False).logits[0]
        return out.float().contiguous()

    def inv_freq_of(model):
        rotary = getattr(model.model, 'rotary_emb', None)
        inv_freq = getattr(rotary, 'inv_freq', None)
        return None if inv_freq is None else [float(x) for x in inv_freq.float().tolist()]

    def greedy_by_argmax(model, prompt, n):
        seq = prompt.clone()
        for _ in range(n):
            nxt = logits_of(model, seq)[-1].argmax()
            seq = torch.cat([seq, nxt[None]])
        return seq[len(prompt):].tolist()

    os.makedirs(args.out, exist_ok=True)
    wanted = set(args.cases or [c['name'] for c in CASES])
    failures = []
    for case in CASES:
        if case['name'] not in wanted:
            continue
        name = case['name']
        folder = os.path.join(args.out, name)
        print(f'\n== {name}', flush=True)
        try:
            if os.path.exists(folder):
                shutil.rmtree(folder)
            # deepcopy: transformers fills rope_parameters in place.
            config = config_classes[case['arch']](**copy.deepcopy(case['config']))
            rp = config.rope_parameters
            for k, v in case['config']['rope_parameters'].items():
                assert rp.get(k) == v, f'config.rope_parameters[{k!r}] = {rp.get(k)!r}, wanted {v!r}'
            if 'head_dim' in case['config']:
                assert config.head_dim == case['config']['head_dim']

            model = new_model(config)
            param_names = fill_weights(model, case['seed'])
            tied = bool(case['config']['tie_word_embeddings'])
            same = model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
            assert same == tied, f'lm_head shares embed_tokens: {same}, wanted {tied}'

            dtype = torch_dtypes[case['dtype']]
            model.to(dtype)  # rounds the weights once; the checkpoint holds these rounded values
            notes = []
            # Sharded cases: if this transformers packs differently and writes one file, retry smaller.
            shard_sizes = [case['max_shard_size'], case['max_shard_size'] // 2] if 'max_shard_size' in case else [None]
            for shard_size in shard_sizes:
                if os.path.exists(folder):
                    shutil.rmtree(folder)
                save_kwargs = {} if shard_size is None else {'max_shard_size': shard_size}
                model.save_pretrained(folder, **save_kwargs)
                if shard_size is None or os.path.exists(os.path.join(folder, 'model.safetensors.index.json')):
                    break
                print(f'  max_shard_size {shard_size} gave one file; retrying smaller', flush=True)

            tensors = checkpoint_tensors(folder)
            if tied and 'lm_head.weight' in tensors:
                # Hub files of tied models carry no lm_head; drop it if this transformers wrote one anyway.
                from safetensors.torch import load_file, save_file
                file = tensors['lm_head.weight'][0]
                state = load_file(os.path.join(folder, file))
                state.pop('lm_head.weight')
                save_file(state, os.path.join(folder, file), metadata={'format': 'pt'})
                print('  removed lm_head.weight from the tied checkpoint', flush=True)
                tensors = checkpoint_tensors(folder)
            assert ('lm_head.weight' in tensors) == (not tied), 'lm_head.weight presence does not match tying'
            wrong = {n: t[1] for n, t in tensors.items() if t[1] != st_dtypes[case['dtype']]}
            assert not wrong, f'tensors not saved as {case["dtype"]}: {wrong}'
            files = sorted(set(t[0] for t in tensors.values()))
            if 'max_shard_size' in case:
                assert len(files) >= 2, f'wanted several shards, got {files}'
            with open(os.path.join(folder, 'config.json')) as f:
                saved_config = json.load(f)
            saved_dtype = saved_config.get('dtype', saved_config.get('torch_dtype'))
            if saved_dtype != case['dtype']:
                # The weights are what matters (checked above); make the config say what they are.
                notes.append(f'config.json dtype was {saved_dtype!r}; set to {case["dtype"]!r}')
                saved_config.pop('torch_dtype', None)
                saved_config['dtype'] = case['dtype']
                write_json(os.path.join(folder, 'config.json'), saved_config)
                print(f'  NOTE {notes[-1]}', flush=True)

            ids_gen = torch.Generator().manual_seed(case['seed'] + 1)
            ids = torch.randint(0, config.vocab_size, (NUM_TOKENS,), generator=ids_gen, dtype=torch.long)

            # The fixtures come from the checkpoint as transformers loads it, upcast to f32.
            loaded = load(folder)
            logits = logits_of(loaded, ids)
            assert logits.shape == (NUM_TOKENS, config.vocab_size)
            assert torch.isfinite(logits).all()
            checks = {}
            if case['dtype'] == 'float32':
                # Same weights in memory and on disk: the reload must reproduce the in-memory model exactly.
                checks['max_diff_vs_in_memory_model'] = float((logits_of(model, ids) - logits).abs().max())
                assert checks['max_diff_vs_in_memory_model'] < 1e-5, checks
            # Decode with transformers' KV cache, one token at a time, must agree with the one prefill.
            past, rows = None, []
            for t in range(NUM_TOKENS):
                out = loaded(input_ids=ids[None, t:t + 1], past_key_values=past, use_cache=True)
                past = out.past_key_values
                rows.append(out.logits[0, -1].float())
            checks['max_diff_transformers_decode_vs_prefill'] = float((torch.stack(rows) - logits).abs().max())
            assert checks['max_diff_transformers_decode_vs_prefill'] < 1e-3, checks

            if case['config']['rope_parameters']['rope_type'] == 'llama3':
                # The scaling must matter within NUM_TOKENS, or the fixture would not test it.
                plain_cfg = copy.deepcopy(case['config'])
                plain_cfg['rope_parameters'] = {'rope_type': 'default',
                                                'rope_theta': case['config']['rope_parameters']['rope_theta']}
                plain = new_model(config_classes[case['arch']](**plain_cfg))
                plain.load_state_dict(loaded.state_dict(), strict=True)
                if tied:
                    assert plain.lm_head.weight.data_ptr() == plain.model.embed_tokens.weight.data_ptr()
                d = float((logits_of(plain, ids) - logits).abs().max())
                checks['max_diff_vs_same_model_without_rope_scaling'] = d
                if d < ROPE_SCALING_MIN_EFFECT:
                    notes.append(f'llama3 scaling changes the logits by only {d}')
                    print(f'  WARNING {notes[-1]}', flush=True)

            if case.get('legacy_config'):
                cfg_path = os.path.join(folder, 'config.json')
                write_json(cfg_path, legacy_config(saved_config))
                again = load(folder)
                theta = again.config.rope_parameters['rope_theta']
                assert theta == case['config']['rope_parameters']['rope_theta'], f'legacy config read theta {theta}'
                checks['max_diff_legacy_config_reload'] = float((logits_of(again, ids) - logits).abs().max())
                assert checks['max_diff_legacy_config_reload'] < 1e-6, checks

            # Greedy continuation by generate(); EOS stopping is off so every case gives GREEDY_NEW tokens.
            prompt = ids[:GREEDY_PROMPT]
            by_argmax = greedy_by_argmax(loaded, prompt, GREEDY_NEW)
            try:
                loaded.generation_config.eos_token_id = None
                loaded.generation_config.pad_token_id = 0
                gen = loaded.generate(input_ids=prompt[None, :],
                                      attention_mask=torch.ones(1, GREEDY_PROMPT, dtype=torch.long),
                                      do_sample=False, max_new_tokens=GREEDY_NEW, min_new_tokens=GREEDY_NEW)
                continuation, source = gen[0, GREEDY_PROMPT:].tolist(), 'generate'
                assert len(continuation) == GREEDY_NEW, f'generate gave {len(continuation)} tokens'
            except Exception as e:  # the argmax loop is the same definition; keep the case
                notes.append(f'generate() failed ({e!r}); greedy.json holds the argmax loop')
                print(f'  NOTE {notes[-1]}', flush=True)
                continuation, source = by_argmax, 'argmax-loop'
            print(f'  greedy ({source}): {continuation}', flush=True)
            if continuation != by_argmax:
                print(f'  WARNING generate() and the argmax loop differ: {by_argmax}', flush=True)

            ids_list = ids.tolist()
            write_json(os.path.join(folder, 'ids.json'), ids_list)
            logits.numpy().astype('<f4').tofile(os.path.join(folder, 'logits.f32'))
            write_json(os.path.join(folder, 'greedy.json'), {
                'prompt': ids_list[:GREEDY_PROMPT],
                'continuation': continuation,
                'do_sample': False,
                'eos_stopping': False,
                'source': source,
                'argmax_loop_agrees': continuation == by_argmax,
            })
            write_json(os.path.join(folder, 'meta.json'), {
                'case': name,
                'about': case['about'],
                'arch': case['arch'],
                'architectures': saved_config.get('architectures'),
                'seed': case['seed'],
                'ids_seed': case['seed'] + 1,
                'init': f'torch.manual_seed(seed); sorted named_parameters ~ normal(0, {INIT_STD}); '
                        f'*norm.weight += 1',
                'parameters_initialised': param_names,
                'dtype': case['dtype'],
                'tied_embeddings': tied,
                'files': sorted(os.listdir(folder)),
                'safetensors_files': files,
                'num_tensors': len(tensors),
                'num_tokens': NUM_TOKENS,
                'vocab_size': config.vocab_size,
                'logits': {'file': 'logits.f32', 'dtype': 'float32', 'byte_order': 'little',
                           'shape': [NUM_TOKENS, config.vocab_size]},
                'max_abs_logit': float(logits.abs().max()),
                'logits_std': float(logits.std()),
                'argmax_first_8': logits.argmax(-1)[:8].tolist(),
                'rope_inv_freq': inv_freq_of(loaded),
                'lm_head_shares_embed_tokens_after_load': bool(
                    loaded.lm_head.weight.data_ptr() == loaded.model.embed_tokens.weight.data_ptr()),
                'attn_implementation': 'eager',
                'checks': checks,
                'notes': notes,
                'transformers_version': transformers.__version__,
                'torch_version': torch.__version__,
            })
            print(f'  files {sorted(os.listdir(folder))}', flush=True)
            print(f'  max|logit| {float(logits.abs().max()):.4f}  checks {checks}', flush=True)
        except Exception as e:  # keep going: one broken case must not cost the others a device run
            import traceback
            traceback.print_exc()
            failures.append(name)
            print(f'  FAILED {name}: {e}', flush=True)
    if failures:
        print(f'\nFAILED cases: {failures}', flush=True)
        sys.exit(1)
    print('\nall cases written', flush=True)


if __name__ == '__main__':
    main()
