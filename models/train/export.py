"""Exports a sieve-tiny training checkpoint to Hugging Face Llama layout (f16 safetensors, config, tokenizer, chat template).

python3 models/train/export.py CKPT_DIR OUT_DIR
"""
import json, os, shutil, sys
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Llama, load_sharded  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
# User/Assistant layout that the training dialogues use; the model was trained with <s> at the start of a text.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}\n"
    "{% elif message['role'] == 'user' %}User: {{ message['content'] }}\n"
    "{% elif message['role'] == 'assistant' %}Assistant: {{ message['content'] }}{{ eos_token }}\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


def hf_config(cfg):
    return {
        'architectures': ['LlamaForCausalLM'], 'model_type': 'llama',
        'vocab_size': cfg.vocab_size, 'hidden_size': cfg.hidden_size, 'intermediate_size': cfg.intermediate_size,
        'num_hidden_layers': cfg.num_hidden_layers, 'num_attention_heads': cfg.num_attention_heads,
        'num_key_value_heads': cfg.num_key_value_heads, 'head_dim': cfg.head_dim, 'hidden_act': 'silu',
        'max_position_embeddings': cfg.max_position_embeddings, 'rope_theta': cfg.rope_theta, 'rope_scaling': None,
        'rms_norm_eps': cfg.rms_norm_eps, 'attention_bias': False, 'attention_dropout': 0.0, 'mlp_bias': False,
        'tie_word_embeddings': False, 'bos_token_id': cfg.bos_token_id, 'eos_token_id': cfg.eos_token_id,
        'pad_token_id': cfg.pad_token_id, 'initializer_range': 0.02, 'pretraining_tp': 1, 'use_cache': True,
        'torch_dtype': 'float16',
    }


def export(ckpt_dir, out_dir, model=None):
    from safetensors.torch import save_file
    cfg = Config()
    if model is None:
        model = Llama(cfg)
        assert load_sharded(model, ckpt_dir, 'ckpt'), 'no checkpoint in ' + ckpt_dir
    os.makedirs(out_dir, exist_ok=True)
    sd = {k: v.detach().to(torch.float16).cpu().contiguous() for k, v in model.state_dict().items()}
    # lm_head written out (untied) so loaders need not know about tying.
    sd['lm_head.weight'] = sd['model.embed_tokens.weight'].clone()
    save_file(sd, os.path.join(out_dir, 'model.safetensors'), metadata={'format': 'pt'})
    json.dump(hf_config(cfg), open(os.path.join(out_dir, 'config.json'), 'w'), indent=2)
    json.dump({'bos_token_id': cfg.bos_token_id, 'eos_token_id': cfg.eos_token_id, 'pad_token_id': cfg.pad_token_id,
               'do_sample': False, 'max_new_tokens': 256},
              open(os.path.join(out_dir, 'generation_config.json'), 'w'), indent=2)
    src = os.path.join(ROOT, 'models', 'sieve-tiny', 'tokenizer.json')
    if os.path.abspath(src) != os.path.abspath(os.path.join(out_dir, 'tokenizer.json')):
        shutil.copy(src, os.path.join(out_dir, 'tokenizer.json'))
    json.dump({'tokenizer_class': 'PreTrainedTokenizerFast', 'bos_token': '<s>', 'eos_token': '</s>', 'pad_token': '<pad>',
               'add_bos_token': False, 'add_eos_token': False, 'clean_up_tokenization_spaces': False,
               'model_max_length': cfg.max_position_embeddings, 'chat_template': CHAT_TEMPLATE},
              open(os.path.join(out_dir, 'tokenizer_config.json'), 'w'), indent=2)
    return out_dir


if __name__ == '__main__':
    export(sys.argv[1], sys.argv[2])
