"""Makes models/sieve-tiny/golden/: what Hugging Face transformers computes for the exported sieve-tiny, so the engine
can be checked against the library that defines the format (issue 6, item 4).

Everything here comes from transformers itself, never from the engine or from tokenizer.json read by hand:
  AutoModelForCausalLM.from_pretrained(models/sieve-tiny, dtype=float32, attn_implementation="eager") on the CPU
  (the f16 weights upcast exactly), and AutoTokenizer.from_pretrained(models/sieve-tiny) with its chat template.

Files written to models/sieve-tiny/golden/ (or --out):
  ids.json       NUM_LOGIT_TOKENS token ids: "<s>" and the opening of Pride and Prejudice (public domain; Jane Austen
                 is in the training corpus), tokenized by AutoTokenizer.
  logits.f32     little-endian float32 [NUM_LOGIT_TOKENS, vocab] row-major; row t = logits after ids[0..t], one prefill.
                 Only 128 positions are kept so the file stays about 3 MB (300 positions would be 7.4 MB at vocab 6144);
                 exact values, not a summary.
  encodings.json {add_special_tokens, cases: [{text, ids, decoded}]}: 100 varied strings, each encoded as the engine
                 encodes a raw prompt (tokenizer_config.json has add_bos_token false: nothing is added; the post-processor
                 is ByteLevel, which adds nothing either) and decoded back with skip_special_tokens=False.
  chat.json      [{messages, text, ids}]: apply_chat_template(tokenize=False, add_generation_prompt=True) and the ids of
                 that text (apply_chat_template(tokenize=True) is checked to give the same ids).
  passkey.json   a chat-form pass-key prompt of a few hundred tokens built as models/train/eval.py builds its prompts
                 (repeated filler, the needle at a given depth, the question), rendered by the chat template, with
                 transformers' greedy continuation (generate, do_sample=False) and the smallest top-2 logit gap on it.
  meta.json      versions, sizes, max |logit|, and checks made here (KV-cache decode vs prefill).

Run from the repository root (CPU is enough, about 10 s):
  pip install torch transformers tokenizers   # here: from the local mirror (/opt/wheels, /opt/pypi)
  python3 models/sieve-tiny/check_transformers.py
Same versions give the same bytes (CPU, float32, no randomness).
"""

import argparse
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NUM_LOGIT_TOKENS = 128
PASSKEY = '73914'
PASSKEY_FILLER_REPEATS = 12  # about 29 tokens a repeat: a prompt of about 370 tokens
PASSKEY_DEPTH = 0.4
PASSKEY_NEW_TOKENS = 12

# The opening of Pride and Prejudice (Jane Austen, 1813; public domain, Project Gutenberg text).
TEXT = (
    'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of '
    'a wife.\n\nHowever little known the feelings or views of such a man may be on his first entering a '
    'neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he is considered as '
    'the rightful property of some one or other of their daughters.\n\n"My dear Mr. Bennet," said his lady to him '
    'one day, "have you heard that Netherfield Park is let at last?"\n\nMr. Bennet replied that he had not.\n\n"But '
    'it is," returned she; "for Mrs. Long has just been here, and she told me all about it."\n\nMr. Bennet made no '
    'answer.\n\n"Do not you want to know who has taken it?" cried his wife impatiently.\n\n"_You_ want to tell me, '
    'and I have no objection to hearing it."\n\nThis was invitation enough.'
)

# models/train/data.py's filler and needle wording (eval.py's "passkey" cells use them).
FILLER = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. '


def encoding_cases():
    """100 strings that exercise the pre-tokenizer (digits split one by one, ByteLevel regex), added tokens and bytes."""
    cases = [
        '', ' ', '  ', '\n', '\t', '\r\n', 'a', '0', '.',
        'Hello, world!', 'hello world', 'HELLO WORLD', ' Hello', 'Hello ', '  Hello  ', '\tHello\t',
        'The quick brown fox jumps over the lazy dog.',
        'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.',
        'Call me Ishmael. Some years ago--never mind how long precisely--having little or no money in my purse.',
        'Fellow-Citizens of the Senate and of the House of Representatives:',
        "Don't you think it's odd? I'd say we'll see; they're here, you've seen, he's gone.",
        '"Quoted," she said, \'single quoted\' and `backticks`.',
        '!@#$%^&*()_+-=[]{}|;:,.<>/?~',
        '...', '---', '***bold*** _under_ ~~strike~~',
        '3.14159', '2024-06-01', '12:30:45', '1,234,567.89', '-42', '1e-5', '0x1F', '100%', '$19.99',
        '12345', '73914', '00000', '9876543210987654321098765432109876543210',
        'The pass key is 73914. Remember it. 73914 is the pass key.',
        'What is 17 plus 25?', 'Count from 3 to 9.', '- apple: 12345\n- pear: 67890\n',
        'word    word', 'a\n\nb', 'a\n\n\n\nb', 'line one\nline two\nline three', 'col1\tcol2\tcol3',
        ' \t \n \t ', '    indented code', 'trailing spaces    ', '\n\nleading newlines', 'trailing newline\n',
        'café', 'naïve résumé', 'Ångström', 'Zürich über Straße', 'façade señor año', 'ÀÉÎÕÜ àéîõü',
        '日本語のテキスト', '中文字符测试', '한국어 문장', 'Привет, мир!', 'Γειά σου Κόσμε', 'שלום עולם', 'مرحبا بالعالم',
        'mixed עברית and English', 'emoji 😀', '👍🏽', '👨‍👩‍👧‍👦 family', '🇫🇷🇯🇵', '❤️ ✓ ★ → ∑ ∞',
        '\u200b zero width', 'e\u0301 combining', '½ ¼ ¾ ² ³', '«guillemets» „Anführung“', '—em dash– en dash',
        '<s>', '</s>', '<pad>', '<s>User: Hello!\nAssistant:', 'text</s>', '<s><s>', ' <s> spaced </s> ',
        '<s', 's>', '< s >', '<unk>', '<|endoftext|>', '[INST] hi [/INST]',
        'User: Hi.\nAssistant: Hello! How can I help you today?</s>\n',
        'https://example.com/path?q=1&x=2#frag', 'user@example.com', 'C:\\Users\\name\\file.txt',
        'def f(x):\n    return x * 2\n', '{"key": [1, 2, 3], "nested": {"a": null}}', '<div class="x">hi</div>',
        'x' * 200, 'ab' * 50 + ' ' + '1' * 40, ' '.join(['word'] * 60),
    ]
    assert len(cases) == 100, len(cases)
    assert len(set(cases)) == 100
    return cases


CONVERSATIONS = [
    [{'role': 'user', 'content': 'Hello!'}],
    [{'role': 'system', 'content': 'You are Sieve, a small language model.'},
     {'role': 'user', 'content': 'What is 17 plus 25?'}],
    [{'role': 'user', 'content': 'Hi there!'},
     {'role': 'assistant', 'content': 'Hello! How can I help you today?'},
     {'role': 'user', 'content': 'Count from 3 to 9.'}],
    [{'role': 'system', 'content': 'Answer briefly.'},
     {'role': 'user', 'content': 'Remember the number 48213.'},
     {'role': 'assistant', 'content': 'I will remember 48213.'},
     {'role': 'user', 'content': 'Tell me a short story about the sea.'},
     {'role': 'assistant', 'content': 'The ship sailed at dawn. The sea was calm.'},
     {'role': 'user', 'content': 'What number did I ask you to remember?'}],
    [{'role': 'user', 'content': '  spaces around  '},
     {'role': 'assistant', 'content': ''},
     {'role': 'user', 'content': 'line one\nline two\ttab, café 日本 😀 שלום'}],
    [{'role': 'user', 'content': 'Spell the word <s> and </s>.'}],
]


def passkey_messages():
    """eval.py's chat-form pass key: filler, the needle at PASSKEY_DEPTH of the filler, then the question."""
    sentences = (FILLER * PASSKEY_FILLER_REPEATS).strip().split('. ')
    cut = int(PASSKEY_DEPTH * len(sentences))
    before = '. '.join(sentences[:cut]) + '.'
    after = '. '.join(sentences[cut:])
    needle = ' The pass key is ' + PASSKEY + '. Remember it. ' + PASSKEY + ' is the pass key. '
    return [{'role': 'user', 'content': before + needle + after + '\nWhat is the pass key?'}]


def write_json(path, value):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(value, f, ensure_ascii=False, indent=1)
        f.write('\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', default=HERE)
    ap.add_argument('--out', default=os.path.join(HERE, 'golden'))
    a = ap.parse_args()

    import torch
    import transformers
    import tokenizers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    os.makedirs(a.out, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation='eager').eval()
    vocab = model.config.vocab_size
    with open(os.path.join(a.model, 'tokenizer_config.json')) as f:
        tconf = json.load(f)
    # The engine adds BOS to a raw prompt only when tokenizer_config says add_bos_token (engine/tokenizer/tokenizer.ts).
    add_special = bool(tconf.get('add_bos_token', False))
    checks = {}
    strings = encoding_cases()  # asserts its own count before the slow part

    # ---- logits -------------------------------------------------------------------------------------------------
    ids = tok(TEXT, add_special_tokens=False).input_ids
    ids = [tok.bos_token_id] + ids
    assert len(ids) >= NUM_LOGIT_TOKENS, f'text gives only {len(ids)} tokens'
    ids = ids[:NUM_LOGIT_TOKENS]
    x = torch.tensor([ids])
    with torch.no_grad():
        logits = model(x).logits[0].float().contiguous()
        # transformers' own KV-cache decode, token by token, must give the same rows (a check on this file, not on the engine).
        past, rows = None, []
        for t in range(len(ids)):
            out = model(x[:, t:t + 1], past_key_values=past, use_cache=True)
            past = out.past_key_values
            rows.append(out.logits[0, -1].float())
        checks['hf_kv_decode_vs_prefill_max_abs'] = (torch.stack(rows) - logits).abs().max().item()
    assert logits.shape == (NUM_LOGIT_TOKENS, vocab)
    write_json(os.path.join(a.out, 'ids.json'), ids)
    with open(os.path.join(a.out, 'logits.f32'), 'wb') as f:
        f.write(struct.pack(f'<{logits.numel()}f', *logits.flatten().tolist()))
    top2 = logits.topk(2, dim=-1).values

    # ---- encodings ------------------------------------------------------------------------------------------------
    enc = []
    for text in strings:
        e = tok(text, add_special_tokens=add_special).input_ids
        enc.append({'text': text, 'ids': e, 'decoded': tok.decode(e, skip_special_tokens=False)})
    checks['round_trips_exact'] = sum(c['decoded'] == c['text'] for c in enc)
    write_json(os.path.join(a.out, 'encodings.json'), {'add_special_tokens': add_special, 'cases': enc})

    # ---- chat template --------------------------------------------------------------------------------------------
    chat = []
    for messages in CONVERSATIONS:
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        cids = tok(text, add_special_tokens=False).input_ids
        direct = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
        direct = direct['input_ids'] if hasattr(direct, 'keys') else direct
        assert list(direct) == cids, (messages, list(direct), cids)
        chat.append({'messages': messages, 'text': text, 'ids': cids})
    write_json(os.path.join(a.out, 'chat.json'), chat)

    # ---- pass key, greedy -------------------------------------------------------------------------------------------
    messages = passkey_messages()
    ptext = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    pids = tok(ptext, add_special_tokens=False).input_ids
    with torch.no_grad():
        g = model.generate(torch.tensor([pids]), do_sample=False, max_new_tokens=PASSKEY_NEW_TOKENS,
                           output_scores=True, return_dict_in_generate=True, pad_token_id=tok.pad_token_id)
    new = g.sequences[0, len(pids):].tolist()
    gaps = [float(s[0].topk(2).values[0] - s[0].topk(2).values[1]) for s in g.scores]
    reply = tok.decode(new, skip_special_tokens=True)
    assert PASSKEY in reply, reply
    write_json(os.path.join(a.out, 'passkey.json'), {
        'passkey': PASSKEY, 'messages': messages, 'text': ptext, 'ids': pids, 'prompt_tokens': len(pids),
        'greedy_ids': new, 'greedy_text': tok.decode(new, skip_special_tokens=False), 'reply': reply,
        'min_top2_gap': min(gaps), 'max_new_tokens': PASSKEY_NEW_TOKENS,
    })

    meta = {
        'made_by': 'models/sieve-tiny/check_transformers.py',
        'versions': {'transformers': transformers.__version__, 'torch': torch.__version__,
                     'tokenizers': tokenizers.__version__, 'python': sys.version.split()[0]},
        'model': {'dtype_on_disk': 'float16', 'dtype_computed': 'float32', 'attn_implementation': 'eager',
                  'device': 'cpu', 'vocab_size': vocab},
        'logits': {'tokens': NUM_LOGIT_TOKENS, 'shape': [NUM_LOGIT_TOKENS, vocab], 'format': 'f32 little-endian, row-major',
                   'text': 'Pride and Prejudice, chapter 1 (opening), after <s>',
                   'max_abs_logit': logits.abs().max().item(),
                   'min_top2_gap': (top2[:, 0] - top2[:, 1]).min().item()},
        'encodings': {'count': len(enc), 'add_special_tokens': add_special},
        'chat': {'count': len(chat)},
        'checks': checks,
    }
    write_json(os.path.join(a.out, 'meta.json'), meta)
    print(json.dumps(meta, indent=1))
    print('pass key reply:', repr(reply), 'prompt tokens', len(pids))


if __name__ == '__main__':
    main()
