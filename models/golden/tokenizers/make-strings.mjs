// Writes strings.json: the texts every tokenizer golden encodes (llama.cpp's for GGUF vocabularies, transformers'
// for tokenizer.json files). Hand-written cases for the rules tokenizers get wrong (whitespace runs, contractions,
// digits, Unicode of every script, byte fallback, code, every family's special tokens, text that only looks special),
// then deterministic combinations of them. Run: node models/golden/tokenizers/make-strings.mjs
import { writeFileSync } from 'node:fs';

const base = [
  '', ' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', ' \n ', '\t\t\n  \n', 'a', ' a', 'a ', '  a  ', 'Hello world',
  'Hello, world!', 'Hello  world', 'Hello   world', 'Hello\tworld', 'Hello\nworld', 'Hello \n world', 'hello world.',
  ' Hello World ', 'HELLO WORLD', "I'm here, you're there, they've gone, she'll go, he'd say, it's fine, don't.",
  "I'M SHOUTING, YOU'RE LATE, THEY'VE GONE", "rock 'n' roll", "'s 't 're 've 'm 'll 'd", "a ' b", 'a ? b ! c . d , e',
  'What? No! Yes. Maybe, maybe.', '1', '12', '123', '1234', '12345', '1234567890', '3.14159', '-42', '1,000,000',
  '2024-01-31T12:34:56Z', '0x1F600', '1e-5', '100%', '$19.99', '€12,50', '¥1000', '½ ⅓ ¼', '١٢٣ ٤٥٦', '१२३', '一二三',
  'naïve café résumé', 'Ångström', 'Straße', 'ﬁ ligature', 'e\u0301 (e + combining acute)', 'é (precomposed)',
  'Ελληνικά γράμματα', 'Русский текст, ещё', 'Українська мова', 'עברית', 'العربية لغة جميلة', 'فارسی', 'हिन्दी भाषा',
  'বাংলা', 'தமிழ்', 'ไทย ภาษา', 'ລາວ', 'ქართული', 'Հայերեն', '中文字符测试', '日本語のテキスト、カタカナ', '한국어 텍스트',
  'Tiếng Việt có dấu', 'Türkçe ğüşıöç', 'Polski żółć', 'Čeština ěščřžýáíé', 'Ελλάδα 2024', '😀', '😀😃😄', '👍🏽',
  '👨‍👩‍👧‍👦 family', '🇩🇪🇫🇷', '❤️', '★☆✓✗', '→ ← ↑ ↓', '∑∫√∞≈≠', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '𠜎𠜱𠝹', '\u200b zero width',
  'non\u00a0breaking space', 'em\u2003space', 'ideographic\u3000space', 'line\u2028separator', 'soft\u00adhyphen',
  'bom\ufeffinside', '\u0085next line', 'tab\there', 'trailing space ', 'trailing spaces   ', '   leading spaces',
  'many          spaces', '\n\n\nthree newlines', 'mixed \t \n \r whitespace', 'a\n\n\n\nb', '    indented line',
  'def add(a, b):\n    return a + b\n', 'for (let i = 0; i < n; i++) {\n  sum += x[i];\n}',
  '#include <stdio.h>\nint main(void) { printf("hi\\n"); return 0; }', 'SELECT * FROM users WHERE id = 42;',
  '<div class="a">Hello</div>', '{"key": "value", "n": [1, 2, 3]}', 'x = {k: v for k, v in d.items() if v}',
  'fn main() -> Result<(), Box<dyn Error>> { Ok(()) }', '    if x:\n        pass\n    else:\n        raise ValueError("no")',
  'https://example.com/path?q=1&r=2#frag', 'user@example.com', 'C:\\Users\\name\\file.txt', '/usr/local/bin/node',
  '$ npm install --save-dev typescript', 'git commit -m "fix: handle edge case"', '=== --- +++ *** ### ___',
  '...', '!!!', '???', '?!?!', '—', '– en dash', '“quoted” ‘single’', '«guillemets»', '¿Qué? ¡Sí!', '(parenthetical)',
  '[brackets] {braces} <angles>', '@#$%^&*()_+-=', '~`|\\', 'a.b.c.d', 'snake_case_name', 'camelCaseName',
  'PascalCaseName', 'kebab-case-name', 'SCREAMING_SNAKE', 'iPhone iOS macOS', 'ChatGPT GPT-4o', 'e.g. i.e. etc.',
  'Mr. Smith went to Washington.', 'The quick brown fox jumps over the lazy dog.', 'Lorem ipsum dolor sit amet.',
  'Once upon a time, there was a little girl named Lily.', 'antidisestablishmentarianism', 'pneumonoultramicroscopic',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'ababababababababab', '1111111111111111', '................',
  '<s>', '</s>', '<unk>', '<s>Hello</s>', ' <s> spaced </s> ', '<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>',
  '<|begin_of_text|>Hello<|eot_id|>', '<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>',
  '<|reserved_special_token_0|>', '<|python_tag|>print(1)<|eom_id|>', '<|im_start|>', '<|im_end|>', '<|endoftext|>',
  '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
  '<think>\nreasoning\n</think>\n\nanswer', '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>',
  '<|vision_start|><|image_pad|><|vision_end|>', '<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>', '<bos>', '<eos>',
  '<start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n', '<pad>', '<mask>', '<start_of_image>',
  '<|im_start|><|im_end|>', '<|eot_id|><|eot_id|>', 'text<|eot_id|>text', '<|not_a_token|>', '< |im_start| >',
  '<|im_start', 'im_start|>', '<<|im_end|>>', '<|begin_of_text|> leading space', '<|endoftext|>\n\n',
  'Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３', 'ｶﾀｶﾅ', 'Ⅳ Ⅻ', '①②③', 'x² + y³ = z⁴', 'H₂O', 'ªº', 'µ vs μ', 'Ω vs Ω',
  'K (Kelvin) vs K', 'ǅ ǈ ǋ', 'İstanbul ıi', 'ß ẞ', 'ﬀ ﬃ', 'Ǳ', '\u0000nul', 'bell\u0007', 'esc\u001b[0m',
  'del\u007f', 'c1 \u0080\u009f', '\ud83d\ude00 pair', 'tabs\t\t\tand  spaces  \t mixed', '   \n   \n   ',
  ' \t ', 'end with newline\n', 'end with two newlines\n\n', '\nstart with newline', ' ,', ' .', ' !', ' ?', " 's",
  " 've", " 're", " 'm", " 't", "don 't", "can ' t", 'word , word . word ! word ?',
];

const seen = new Set();
const strings = [];
const add = (s) => { if (!seen.has(s)) { seen.add(s); strings.push(s); } };
for (const s of base) add(s);
// Combinations: a seeded LCG picks pairs and triples joined by the separators that interact with pre-tokenizers.
let state = 12345;
const rand = (n) => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state % n; };
const separators = ['', ' ', '  ', '\n', '\t', ' \n', '. ', ', ', "'"];
while (strings.length < 320) {
  const parts = Array.from({ length: 2 + rand(2) }, () => base[rand(base.length)]);
  let s = parts[0];
  for (const p of parts.slice(1)) s += separators[rand(separators.length)] + p;
  if (s.length <= 400) add(s);
}
writeFileSync(new URL('strings.json', import.meta.url), `${JSON.stringify(strings, null, 1)}\n`);
console.log(`${strings.length} strings`);
