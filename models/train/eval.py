"""Evaluates a sieve-tiny checkpoint: held-out perplexity, passkey and key-value retrieval (greedy), text samples, and a logits check against transformers.

python3 models/train/eval.py --ckpt DIR --out DIR [--n 50]
Writes eval.json (numbers and samples) to --out.
"""
import argparse, json, math, os, sys, time
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Llama, load_sharded  # noqa: E402
from data import Tasks, SEQ  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
EVAL_SEED = 987654  # differs from every training seed
SAMPLE_PROMPTS = [
    'It is a truth universally acknowledged, that',
    'Call me Ishmael. The ship',
    'The President said that the nation',
    '<s>User: Hello!\nAssistant:',
    '<s>User: Tell me a short story about the sea.\nAssistant:',
]


@torch.no_grad()
def greedy(model, prompts, n_new, dev, bs=25):
    """Greedy continuation of equal-length prompts by full recomputation (prompts are short in count, long in tokens)."""
    outs = []
    for i in range(0, len(prompts), bs):
        x = torch.tensor(np.stack(prompts[i:i + bs]), device=dev)
        for _ in range(n_new):
            with torch.autocast(dev, dtype=torch.bfloat16, enabled=(dev == 'cuda')):
                h = model.hidden(x)[:, -1]
            nxt = F.linear(h.float(), model.model.embed_tokens.weight.float()).argmax(-1)
            x = torch.cat([x, nxt[:, None]], 1)
        outs += x[:, -n_new:].tolist()
    return outs


def retrieval(model, tasks, kind, L, n, dev):
    rng = np.random.default_rng([EVAL_SEED, L, {'passkey': 1, 'passkey-text': 2, 'kv': 3}[kind]])
    prompts, keys = [], []
    for i in range(n):
        depth = (i + 0.5) / n  # dense sweep of needle depths
        if kind == 'passkey':
            p, a, k = tasks.passkey(rng, L, 'filler', depth)
        elif kind == 'passkey-text':
            p, a, k = tasks.passkey(rng, L, 'text', depth)
        else:
            p, a, k = tasks.kv(rng, L)
        prompts.append(p); keys.append(k)
    # Equal lengths per batch: pad on the left with filler is not neutral, so group by length instead.
    correct, shown = 0, []
    by_len = {}
    for j, p in enumerate(prompts):
        by_len.setdefault(len(p), []).append(j)
    for ln, js in by_len.items():
        gen = greedy(model, [prompts[j] for j in js], 7, dev)
        for j, g in zip(js, gen):
            text = tasks.tok.decode(g)
            ok = text.strip().startswith(keys[j])
            correct += ok
            if len(shown) < 3:
                shown.append({'want': keys[j], 'got': text})
    return {'acc': correct / n, 'n': n, 'prompt_tokens': int(np.mean([len(p) for p in prompts])), 'examples': shown}


@torch.no_grad()
def perplexity(model, tasks_held, dev):
    t = torch.tensor(tasks_held.text, device=dev)
    nwin = (len(t) - 1) // SEQ
    tot, cnt = 0.0, 0
    for w in range(nwin):
        x = t[w * SEQ:(w + 1) * SEQ][None]; y = t[w * SEQ + 1:(w + 1) * SEQ + 1][None]
        with torch.autocast(dev, dtype=torch.bfloat16, enabled=(dev == 'cuda')):
            lg = model(x)
        tot += F.cross_entropy(lg.float().view(-1, lg.shape[-1]), y.view(-1), reduction='sum').item(); cnt += y.numel()
    return {'ppl': math.exp(tot / cnt), 'tokens': cnt, 'windows': nwin}


@torch.no_grad()
def sample(model, tok, prompt, dev, n_new=60, temperature=0.7, top_k=40, seed=0):
    g = torch.Generator(device=dev).manual_seed(seed)
    ids = tok.encode(prompt.replace('<s>', '')).ids
    x = torch.tensor([[1] + ids], device=dev)
    for _ in range(n_new):
        with torch.autocast(dev, dtype=torch.bfloat16, enabled=(dev == 'cuda')):
            lg = model(x)[0, -1].float()
        v, ix = lg.topk(top_k)
        p = torch.softmax(v / temperature, -1)
        nxt = ix[torch.multinomial(p, 1, generator=g)]
        x = torch.cat([x, nxt[None]], 1)
        if nxt.item() == 2:
            break
    return tok.decode(x[0, len(ids) + 1:].tolist())


def hf_check(model, dev, tmp='/tmp/sieve-hf'):
    """Exports, loads in transformers, compares logits with this module on one 512-token text (both f16 weights, f32 math)."""
    from export import export
    from transformers import AutoModelForCausalLM
    export(None, tmp, model)
    hf = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32).to(dev).eval()
    ref = Llama(Config()).to(dev)
    ref.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    ids = torch.randint(3, 6144, (1, 512), generator=torch.Generator().manual_seed(1)).to(dev)
    with torch.no_grad():
        a = hf(ids).logits.float(); b = ref(ids).float()
    return {'max_abs_diff_logits': (a - b).abs().max().item(), 'max_abs_logit': a.abs().max().item()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--n', type=int, default=50)
    a = ap.parse_args()
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    torch.backends.cuda.matmul.allow_tf32 = False
    model = Llama(Config()).to(dev).eval()
    assert load_sharded(model, a.ckpt, 'ckpt')
    state = json.load(open(os.path.join(a.ckpt, 'state.json')))
    tok_path = os.path.join(ROOT, 'models/sieve-tiny/tokenizer.json')
    carry = os.path.join(ROOT, '.carry/sieve-tiny')
    held = Tasks(tok_path, carry, 'heldout')  # natural-text haystacks and perplexity from held-out documents only
    t0 = time.time()
    res = {'step': state['step'], 'train_tokens': state['tokens'], 'train_seconds': state['seconds']}
    res['heldout'] = perplexity(model, held, dev); print(res['heldout'], flush=True)
    for L in (1024, 2048, 4096):
        for kind in ('passkey', 'passkey-text', 'kv'):
            r = retrieval(model, held, kind, L, a.n, dev)
            res[f'{kind}@{L}'] = r
            print(kind, L, r['acc'], r['prompt_tokens'], r['examples'][:1], flush=True)
    res['samples'] = [{'prompt': p, 'text': sample(model, held.tok, p, dev, seed=i)} for i, p in enumerate(SAMPLE_PROMPTS)]
    for s in res['samples']:
        print(repr(s['prompt']), '->', repr(s['text']), flush=True)
    try:
        res['hf_check'] = hf_check(model, dev); print(res['hf_check'], flush=True)
    except Exception as e:  # the numbers above stand on their own; report the failure
        res['hf_check'] = {'error': repr(e)}; print('hf_check failed', repr(e), flush=True)
    res['eval_seconds'] = time.time() - t0
    json.dump(res, open(os.path.join(a.out, 'eval.json'), 'w'), indent=1)


if __name__ == '__main__':
    main()
