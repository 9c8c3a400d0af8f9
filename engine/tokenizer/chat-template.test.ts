// Chat templates rendered with @huggingface/jinja: Llama-3 and Qwen2.5-style templates, the plain default, errors.
import { describe, expect, it } from 'vitest';
import { BadModelFileError, InvalidArgumentError } from '../errors/index.ts';
import { createChatTemplate, DEFAULT_CHAT_TEMPLATE, type ChatMessage } from './chat-template.ts';

/** Meta-Llama-3-8B-Instruct's tokenizer_config.json chat_template (one line, as shipped). */
const LLAMA3_TEMPLATE = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

/** Qwen2.5-Instruct's template, its tools branch shortened (the shape that matters: default system, im_start/im_end). */
const QWEN_TEMPLATE = [
  "{%- if tools %}",
  "    {{- '<|im_start|>system\\n' }}{{- messages[0]['content'] if messages[0]['role'] == 'system' else 'You are a helpful assistant.' }}",
  "    {%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}{{- '<|im_end|>\\n' }}",
  "{%- else %}",
  "    {%- if messages[0]['role'] == 'system' %}",
  "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}",
  "    {%- else %}",
  "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}",
  "    {%- endif %}",
  "{%- endif %}",
  "{%- for message in messages %}",
  "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\" and not message.tool_calls) %}",
  "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}",
  "    {%- endif %}",
  "{%- endfor %}",
  "{%- if add_generation_prompt %}",
  "    {{- '<|im_start|>assistant\\n' }}",
  "{%- endif %}",
].join('\n');

/** A Mistral-style template that refuses conversations whose roles do not alternate. */
const ALTERNATING_TEMPLATE = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}";

const conversation: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi!' },
  { role: 'assistant', content: 'Hello.' },
  { role: 'user', content: 'What is 2+2? ' },
];

describe('chat templates', () => {
  it('renders a Llama-3 template with bos_token and the generation prompt', () => {
    const t = createChatTemplate({ chat_template: LLAMA3_TEMPLATE, bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>' });
    expect(t.isDefault).toBe(false);
    expect(t.bosToken).toBe('<|begin_of_text|>');
    expect(t.render(conversation)).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>'
      + '<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>'
      + '<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>'
      + '<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>'
      + '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    expect(t.render(conversation, { addGenerationPrompt: false }).endsWith('What is 2+2?<|eot_id|>')).toBe(true);
  });

  it('renders a Qwen2.5 template: a default system prompt when none is given, im_start/im_end turns', () => {
    const t = createChatTemplate({ chat_template: QWEN_TEMPLATE, eos_token: { content: '<|im_end|>', special: true }, bos_token: null });
    expect(t.bosToken).toBe('');
    expect(t.render([{ role: 'user', content: 'Hi!' }])).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n'
      + '<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(t.render(conversation.slice(0, 2))).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('picks the "default" entry of a list of named templates', () => {
    const t = createChatTemplate({ chat_template: [{ name: 'tool_use', template: 'TOOLS' }, { name: 'default', template: '{{ messages[0].content }}!' }] });
    expect(t.render([{ role: 'user', content: 'x' }])).toBe('x!');
  });

  it('uses the plain default template when the model has none', () => {
    for (const config of [null, {}, { bos_token: '<s>' }]) {
      const t = createChatTemplate(config);
      expect(t.isDefault).toBe(true);
      expect(t.source).toBe(DEFAULT_CHAT_TEMPLATE);
      expect(t.render(conversation)).toBe('Be brief.\n\nUser: Hi!\nAssistant: Hello.\nUser: What is 2+2? \nAssistant:');
      expect(t.render([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: false })).toBe('User: Hi\n');
    }
  });

  it("turns a template's raise_exception into an error naming messages", () => {
    const t = createChatTemplate({ chat_template: ALTERNATING_TEMPLATE, bos_token: '<s>', eos_token: '</s>' });
    expect(t.render([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }])).toBe('<s>[INST] a [/INST]b</s>');
    const bad = () => t.render([{ role: 'assistant', content: 'b' }]);
    expect(bad).toThrow(InvalidArgumentError);
    expect(bad).toThrow(/roles must alternate/);
    try { bad(); } catch (e) { expect((e as InvalidArgumentError).toJSON().details).toEqual({ param: 'messages' }); }
  });

  it('rejects a chat_template that is not Jinja or not a string', () => {
    expect(() => createChatTemplate({ chat_template: '{% for x in %}' })).toThrow(BadModelFileError);
    expect(() => createChatTemplate({ chat_template: 42 })).toThrow(BadModelFileError);
  });

  it('offers strftime_now to templates that print the date', () => {
    const t = createChatTemplate({ chat_template: "{{ strftime_now('%d %b %Y') }}" });
    expect(t.render([])).toMatch(/^\d{2} [A-Z][a-z]{2} \d{4}$/);
  });
});
