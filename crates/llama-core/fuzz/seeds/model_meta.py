#!/usr/bin/env python3
"""Writes the seed corpus of the `model_meta` fuzz target (seeds/model_meta/): small GGUF files
holding only metadata — hyper-parameters, a vocabulary of each tokenizer family, a chat
template — and no tensors. Needs llama.cpp's gguf-py (and numpy):

    PYTHONPATH=.../llama.cpp/gguf-py python3 seeds/model_meta.py
"""
import os
import sys

import gguf

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model_meta")
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
GEMMA = (
    "{{ bos_token }}{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
    "<start_of_turn>{{ role }}\n{{ m['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def hparams(w, arch, **extra):
    w.add_uint32(f"{arch}.context_length", 128)
    w.add_uint32(f"{arch}.embedding_length", 64)
    w.add_uint32(f"{arch}.feed_forward_length", 128)
    w.add_uint32(f"{arch}.block_count", 2)
    w.add_uint32(f"{arch}.attention.head_count", 4)
    w.add_uint32(f"{arch}.attention.head_count_kv", 2)
    w.add_uint32(f"{arch}.rope.dimension_count", 16)
    w.add_float32(f"{arch}.rope.freq_base", 10000.0)
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)
    for key, value in extra.items():
        key = f"{arch}.{key}"
        if isinstance(value, bool):
            w.add_bool(key, value)
        elif isinstance(value, float):
            w.add_float32(key, value)
        elif isinstance(value, str):
            w.add_string(key, value)
        else:
            w.add_uint32(key, value)


def write(name, arch, fill):
    w = gguf.GGUFWriter(os.path.join(HERE, name), arch)
    fill(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def spm(w):
    """SentencePiece (`llama`): byte fallback, scores, a Zephyr-like template."""
    hparams(w, "llama", **{"rope.scaling.type": "linear", "rope.scaling.factor": 2.0})
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in (0x0A, 0x20, 0xC3, 0xA9)]
    pieces += ["▁", "▁H", "ello", "▁world", "▁h", "é", "llo", "1", "2", "3", "x", "▁<"]
    types = [UNKNOWN, CONTROL, CONTROL] + [BYTE] * 4 + [NORMAL] * 12
    w.add_tokenizer_model("llama")
    w.add_token_list(pieces)
    w.add_token_scores([-float(i) for i in range(len(pieces))])
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_space_prefix(True)
    w.add_chat_template(
        "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
    )


def bpe(w):
    """Byte-level BPE (`gpt2`, pre-tokenizer `qwen2`): merges, ChatML special tokens."""
    hparams(w, "qwen2")
    chars = [chr(c) for c in range(0x21, 0x7F)] + ["Ġ", "Ċ", "ĉ"]
    merged = ["He", "ll", "llo", "Ġw", "or", "ld", "Ġworld", "12", "123"]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(chars + merged + specials)
    w.add_token_types([NORMAL] * (len(chars) + len(merged)) + [CONTROL] * len(specials))
    w.add_token_merges(["H e", "l l", "ll o", "Ġ w", "o r", "l d", "Ġw orld", "1 2", "12 3"])
    n = len(chars) + len(merged)
    w.add_bos_token_id(n)
    w.add_eos_token_id(n + 2)
    w.add_pad_token_id(n)
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML)


def wpm(w):
    """WordPiece (`bert`) for an encoder: lowercasing, `##` continuations, no template."""
    arch = "nomic-bert"
    hparams(w, arch, **{"attention.causal": False, "pooling_type": 1,
                        "attention.layer_norm_epsilon": 1e-12})
    pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "h", "##e",
              "##llo", "1", "##2", "##3", "x", "<", ">", "/", "s"]
    w.add_tokenizer_model("bert")
    w.add_token_list(pieces)
    w.add_token_types([CONTROL] * 5 + [NORMAL] * (len(pieces) - 5))
    w.add_bos_token_id(2)
    w.add_eos_token_id(3)
    w.add_sep_token_id(3)
    w.add_unk_token_id(1)
    w.add_pad_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(True)


def gemma3(w):
    """Sliding-window hyper-parameters (`gemma3`), SentencePiece without byte tokens, Gemma's
    template with `bos_token` and turn markers."""
    hparams(w, "gemma3", **{"attention.sliding_window": 16, "attention.sliding_window_pattern": 2,
                           "rope.freq_base_swa": 10000.0, "final_logit_softcapping": 30.0,
                           "attention.key_length": 32, "attention.value_length": 32})
    pieces = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>", "\n",
              "▁", "H", "i", "▁Be", "▁brief", ".", "model", "user", "system"]
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(pieces)
    w.add_token_scores([0.0] * len(pieces))
    w.add_token_types([CONTROL, CONTROL, CONTROL, UNKNOWN, CONTROL, CONTROL]
                      + [NORMAL] * (len(pieces) - 6))
    w.add_bos_token_id(2)
    w.add_eos_token_id(1)
    w.add_unk_token_id(3)
    w.add_pad_token_id(0)
    w.add_eot_token_id(5)
    w.add_add_bos_token(True)
    w.add_add_space_prefix(False)
    w.add_chat_template(GEMMA)


if __name__ == "__main__":
    os.makedirs(HERE, exist_ok=True)
    for name, arch, fill in [("llama-spm", "llama", spm), ("qwen2-bpe", "qwen2", bpe),
                             ("nomic-bert-wpm", "nomic-bert", wpm), ("gemma3-swa", "gemma3", gemma3)]:
        write(name, arch, fill)
    sys.exit(0)
