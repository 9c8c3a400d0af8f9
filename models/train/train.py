"""Trains sieve-tiny on the GPU machine: bf16 autocast, SDPA (FlashAttention) attention, 4096-token rows, resumable from sharded f32 checkpoints.

python3 models/train/train.py --minutes 7.5 --out $OUT [--resume DIR]
Checkpoints (ckpt-*.safetensors, state.json) are written to --out every --save-every seconds and at the end.
"""
import argparse, json, math, os, sys, time
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Llama, save_sharded, load_sharded  # noqa: E402
from data import Tasks, SEQ  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


class Stream(torch.utils.data.IterableDataset):
    def __init__(self, seed):
        self.seed = seed

    def __iter__(self):
        wi = torch.utils.data.get_worker_info()
        wid = wi.id if wi else 0
        t = Tasks(os.path.join(ROOT, 'models/sieve-tiny/tokenizer.json'), os.path.join(ROOT, '.carry/sieve-tiny'))
        rng = np.random.default_rng([self.seed, wid])
        while True:
            ids, m = t.row(rng)
            yield torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(m)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--minutes', type=float, default=7.5)
    ap.add_argument('--out', required=True)
    ap.add_argument('--resume', default=None)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--min-lr', type=float, default=3e-4)
    ap.add_argument('--warmup', type=int, default=200)
    ap.add_argument('--total-minutes', type=float, default=13.5, help='cosine decay horizon: planned training time over all runs')
    ap.add_argument('--save-every', type=float, default=120)
    ap.add_argument('--workers', type=int, default=12)
    ap.add_argument('--compile', type=int, default=1)
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--answer-weight', type=float, default=1.0)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    torch.backends.cuda.matmul.allow_tf32 = True
    cfg = Config()
    model = Llama(cfg).to(dev)
    state = {'step': 0, 'tokens': 0, 'seconds': 0.0, 'runs': []}
    if a.resume and load_sharded(model, a.resume, 'ckpt'):
        state = json.load(open(os.path.join(a.resume, 'state.json')))
        print('resumed at step', state['step'], flush=True)
    nparam = sum(p.numel() for p in model.parameters())
    print('params', nparam, 'config', cfg.to_dict(), flush=True)
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim < 2 else decay).append(p)
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8, fused=(dev == 'cuda'))
    fwd = torch.compile(model) if (a.compile and dev == 'cuda') else model
    # Data seed depends on the resume step so a resumed run sees fresh rows.
    dl = torch.utils.data.DataLoader(Stream(a.seed + state['step']), batch_size=a.batch, num_workers=a.workers,
                                     pin_memory=(dev == 'cuda'), prefetch_factor=4 if a.workers else None,
                                     persistent_workers=bool(a.workers))
    it = iter(dl)
    start_step = state['step']
    t0 = time.time(); last_save = t0; deadline = t0 + a.minutes * 60
    run = {'start_step': start_step, 'batch': a.batch, 'lr': a.lr}
    log = open(os.path.join(a.out, 'train.log'), 'a')

    def save(tag):
        state['seconds'] += time.time() - save.t; save.t = time.time()
        save_sharded(model, a.out, 'ckpt')
        json.dump(state, open(os.path.join(a.out, 'state.json'), 'w'), indent=1)
        print('saved', tag, 'step', state['step'], flush=True)
    save.t = t0

    ema = None
    while time.time() < deadline:
        s = state['step']
        local = s - start_step
        warm = min(1.0, (local + 1) / a.warmup)  # warm-up again on resume: optimizer moments are rebuilt
        prog = min(1.0, (state['seconds'] + time.time() - save.t) / (a.total_minutes * 60))
        lr = (a.min_lr + 0.5 * (a.lr - a.min_lr) * (1 + math.cos(math.pi * prog))) * warm
        for g in opt.param_groups:
            g['lr'] = lr
        ids, mask = next(it)
        ids = ids.to(dev, non_blocking=True); mask = mask.to(dev, non_blocking=True)
        x, y, m = ids[:, :-1], ids[:, 1:], mask[:, 1:]
        try:
            with torch.autocast(dev, dtype=torch.bfloat16, enabled=(dev == 'cuda')):
                logits = fwd(x)
        except Exception as e:  # a compiler failure must not cost the run: fall back to eager
            if fwd is model:
                raise
            print('compile failed, eager from here:', repr(e)[:300], flush=True)
            fwd = model
            with torch.autocast(dev, dtype=torch.bfloat16, enabled=(dev == 'cuda')):
                logits = fwd(x)
        lt = F.cross_entropy(logits.float().view(-1, cfg.vocab_size), y.reshape(-1), reduction='none').view(y.shape)
        lm = lt.mean()
        mf = m.float()
        ans = (lt * mf).sum() / mf.sum().clamp(min=1)
        loss = lm + a.answer_weight * ans
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state['step'] += 1
        state['tokens'] += x.numel()
        if s % 50 == 0:
            lv, av = lm.item(), ans.item()
            el = time.time() - t0
            msg = f'step {s} lm {lv:.3f} ans {av:.3f} lr {lr:.2e} tok/s {(state["tokens"] - 0) / max(el, 1e-6) if local == 0 else (local * x.numel()) / el:.0f} elapsed {el:.0f}s'
            print(msg, flush=True); log.write(msg + '\n'); log.flush()
        if time.time() - last_save > a.save_every:
            save('periodic'); last_save = time.time()
    run['end_step'] = state['step']; run['seconds'] = time.time() - t0
    state['runs'].append(run)
    save('final')


if __name__ == '__main__':
    main()
