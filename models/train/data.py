"""Training and evaluation rows for sieve-tiny: natural text, synthetic retrieval tasks (passkey, key-value, several needles) and short dialogues."""
import json, os
import numpy as np

FILLER = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. '
SEQ = 4096


class Tasks:
    """Builds token rows directly from token pieces; every piece starts at a pre-token boundary so the ids equal what the tokenizer gives for the joined text."""

    def __init__(self, tokenizer_path, carry_dir, split='train'):
        from tokenizers import Tokenizer
        self.tok = Tokenizer.from_file(tokenizer_path)
        z = np.load(os.path.join(carry_dir, 'corpus.npz'))
        self.text = z[split].astype(np.int64)
        w = json.load(open(os.path.join(carry_dir, 'words.json')))
        self.words, self.names = w['words'], w['names']
        self.bos, self.eos = self.tok.token_to_id('<s>'), self.tok.token_to_id('</s>')
        self.filler = np.array(self.enc(FILLER.strip()), dtype=np.int64)
        self.filler_sp = np.array(self.enc(' ' + FILLER.strip()), dtype=np.int64)
        self._cache = {}

    def enc(self, s):
        return self.tok.encode(s).ids

    def e(self, s):
        ids = self._cache.get(s)
        if ids is None:
            ids = self.enc(s)
            if len(self._cache) < 200000:
                self._cache[s] = ids
        return ids

    # ---- haystacks -------------------------------------------------------------------------------
    def haystack(self, rng, n, kind):
        """n tokens of distractor text: the repeated filler sentences or a slice of natural text."""
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        if kind == 'filler':
            reps = n // len(self.filler_sp) + 2
            h = np.concatenate([self.filler] + [self.filler_sp] * reps)
            return h[:n]
        start = int(rng.integers(0, len(self.text) - n - 1))
        h = self.text[start:start + n].copy()
        h[h == self.bos] = self.eos  # a document boundary inside a haystack reads as an end of text
        return h

    @staticmethod
    def digits(rng, k=5):
        return ''.join(str(d) for d in rng.integers(0, 10, size=k))

    # ---- tasks: each returns (prompt ids, answer ids) with total length about L ---------------------
    def passkey(self, rng, L, kind=None, depth=None, chat=False):
        kind = kind or ('filler' if rng.random() < 0.5 else 'text')
        key = self.digits(rng)
        needle = self.e(' The pass key is ' + key + '. Remember it. ' + key + ' is the pass key.')
        q = self.e('\nWhat is the pass key?\nAssistant: The pass key is' if chat else '\nWhat is the pass key? The pass key is')
        ans = self.e(' ' + key + '.') + [self.eos]
        n = L - len(needle) - len(q) - len(ans) - 1
        h = self.haystack(rng, n, kind)
        d = int((rng.random() if depth is None else depth) * len(h))
        prompt = np.concatenate([[self.bos], h[:d], needle, h[d:], q])
        return prompt, np.array(ans), key

    def kv(self, rng, L, chat=False):
        head = self.e('Here is a list of keys and values. Remember them.\n')
        q_tail_len = 24
        lines, keys, vals, used = [], [], [], len(head) + q_tail_len + 8
        order = rng.permutation(len(self.words))
        i = 0
        while i < len(order):
            k = self.words[order[i]]; i += 1
            v = self.digits(rng)
            ln = self.e('- ' + k + ': ' + v + '\n')
            if used + len(ln) > L:
                break
            lines.append(ln); keys.append(k); vals.append(v); used += len(ln)
        j = int(rng.integers(0, len(keys)))
        q = self.e('What is the value of ' + keys[j] + ('?\nAssistant: The value of ' if chat else '? The value of ') + keys[j] + ' is')
        ans = self.e(' ' + vals[j] + '.') + [self.eos]
        prompt = np.concatenate([[self.bos], head] + lines + [q])
        return prompt, np.array(ans), vals[j]

    def needles(self, rng, L):
        kind = 'filler' if rng.random() < 0.3 else 'text'
        m = int(rng.integers(2, 6))
        names = [self.names[i] for i in rng.choice(len(self.names), size=m, replace=False)]
        keys = [self.digits(rng) for _ in names]
        nd = [self.e(' The pass key for ' + n + ' is ' + k + '.') for n, k in zip(names, keys)]
        j = int(rng.integers(0, m))
        q = self.e('\nWhat is the pass key for ' + names[j] + '? The pass key for ' + names[j] + ' is')
        ans = self.e(' ' + keys[j] + '.') + [self.eos]
        n = L - sum(len(x) for x in nd) - len(q) - len(ans) - 1
        h = self.haystack(rng, max(n, 0), kind)
        cuts = np.sort(rng.integers(0, len(h) + 1, size=m))
        parts, prev = [[self.bos]], 0
        for c, x in zip(cuts, nd):
            parts += [h[prev:c], x]; prev = c
        parts += [h[prev:], q]
        return np.concatenate(parts), np.array(ans), keys[j]

    def dialogue(self, rng):
        """One short User/Assistant exchange, in the chat template's layout."""
        t = int(rng.integers(0, 7))
        a, b = int(rng.integers(0, 50)), int(rng.integers(0, 50))
        if t == 0:
            u = ['Hello!', 'Hi.', 'Good morning.', 'Hello, who are you?', 'Hi there!'][int(rng.integers(0, 5))]
            r = ['Hello! How can I help you today?', 'Hi! I am Sieve, a small language model. What would you like to talk about?',
                 'Good day to you. What can I do for you?'][int(rng.integers(0, 3))]
        elif t == 1:
            u, r = f'What is {a} plus {b}?', f'{a} plus {b} is {a + b}.'
        elif t == 2:
            s = self.sentence(rng)
            u, r = 'Please repeat this sentence: ' + s, s
        elif t == 3:
            c = int(rng.integers(2, 8))
            u, r = f'Count from {a} to {a + c}.', ', '.join(str(x) for x in range(a, a + c + 1)) + '.'
        elif t == 4:
            topic = ['the sea', 'a ship', 'a family', 'a letter', 'the weather', 'a journey', 'a friend'][int(rng.integers(0, 7))]
            u, r = f'Tell me a short story about {topic}.', self.sentence(rng) + ' ' + self.sentence(rng)
        elif t == 5:
            k = self.digits(rng)
            s = self.sentence(rng)
            u, r = f'Remember the number {k}. {s} What number did I ask you to remember?', f'You asked me to remember {k}.'
        else:
            w = self.words[int(rng.integers(0, len(self.words)))]
            u, r = f'Spell the word {w}.', '-'.join(w) + '.'
        return self.e('User: ' + u + '\nAssistant:'), self.e(' ' + r) + [self.eos] + self.e('\n')

    def sentence(self, rng):
        """A run of natural text decoded from the corpus, cut at sentence ends."""
        start = int(rng.integers(0, len(self.text) - 200))
        s = self.tok.decode(self.text[start:start + 120].tolist())
        parts = s.replace('\n', ' ').split('. ')
        body = parts[1] if len(parts) > 2 else parts[0]
        return body.strip()[:300] + '.'

    # ---- rows --------------------------------------------------------------------------------------
    def row(self, rng):
        """SEQ+1 ids and an answer mask: natural text fills the front, one task sits at the end."""
        r = rng.random()
        if r < 0.25:
            start = int(rng.integers(0, len(self.text) - SEQ - 2))
            ids = self.text[start:start + SEQ + 1]
            return ids, np.zeros(SEQ + 1, dtype=bool)
        if r < 0.40:
            parts, masks, n = [np.array([self.bos])], [np.zeros(1, dtype=bool)], 1
            while n < SEQ + 1:
                p, a = self.dialogue(rng)
                if rng.random() < 0.2:
                    L = int(rng.integers(128, 1500))
                    pp, aa, _ = self.passkey(rng, L, chat=True) if rng.random() < 0.5 else self.kv(rng, L, chat=True)
                    p = np.concatenate([self.e('User: '), pp[1:]])
                    a = list(aa) + self.e('\n')
                parts += [np.asarray(p, dtype=np.int64), np.asarray(a, dtype=np.int64)]
                masks += [np.zeros(len(p), dtype=bool), np.ones(len(a), dtype=bool)]
                n += len(p) + len(a)
            return np.concatenate(parts)[:SEQ + 1], np.concatenate(masks)[:SEQ + 1]
        # Long tasks: lengths spread over the whole context, with extra weight on long ones.
        L = int(rng.integers(256, SEQ + 1)) if rng.random() < 0.6 else int(rng.integers(SEQ * 3 // 4, SEQ + 1))
        if r < 0.65:
            p, a, _ = self.passkey(rng, L)
        elif r < 0.88:
            p, a, _ = self.kv(rng, L)
        else:
            p, a, _ = self.needles(rng, L)
        task = np.concatenate([p, a])[-(SEQ + 1):]
        m = np.zeros(len(task), dtype=bool); m[len(task) - len(a):] = True
        pad = SEQ + 1 - len(task)
        if pad > 0 and rng.random() < 0.5:
            # Task first, natural text after it: questions must be answered at any position, not only at the row's end.
            start = int(rng.integers(0, len(self.text) - pad - 1))
            back = self.text[start:start + pad]
            task = np.concatenate([task, back]); m = np.concatenate([m, np.zeros(pad, dtype=bool)])
        elif pad > 0:
            start = int(rng.integers(0, len(self.text) - pad - 1))
            front = self.text[start:start + pad]
            task = np.concatenate([front, task]); m = np.concatenate([np.zeros(pad, dtype=bool), m])
        return task, m


def batches(tokenizer_path, carry_dir, seed, batch):
    """Endless (ids, mask) batches from one seeded generator."""
    t = Tasks(tokenizer_path, carry_dir)
    rng = np.random.default_rng(seed)
    while True:
        rows = [t.row(rng) for _ in range(batch)]
        yield np.stack([r[0] for r in rows]).astype(np.int64), np.stack([r[1] for r in rows])
