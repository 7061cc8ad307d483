"""Build a tiny random-weight Llama and a byte-level BPE tokenizer offline (test environment only).

Usage: .test-env/vllm/bin/python scripts/make_tiny_model.py OUT_DIR

The tokenizer is trained on the standard library's own Python sources, so nothing is downloaded.
The model has 2 layers and heads of 32 dimensions (vLLM's CPU attention rejects 16). Its output
is gibberish; every serving code path (tokenise, schedule, prefill, decode, metrics) is real.
Skips the work when OUT_DIR already holds a model.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIAL = ["<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>"]


def build(out: Path, vocab: int = 4096, context: int = 512) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    if (out / "config.json").is_file() and (out / "tokenizer.json").is_file():
        print(f"tiny model already in {out}")
        return
    out.mkdir(parents=True, exist_ok=True)
    corpus = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:100]
    if not corpus:
        raise SystemExit("no standard-library sources to train the tokenizer on")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train(
        [str(p) for p in corpus],
        trainers.BpeTrainer(
            vocab_size=vocab,
            special_tokens=SPECIAL,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=context,
    )
    tokenizer.chat_template = TEMPLATE
    tokenizer.save_pretrained(str(out))

    torch.manual_seed(1234)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=context,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="bfloat16",
    )
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(str(out), safe_serialization=True)
    params = sum(p.numel() for p in model.parameters())
    print(f"tiny model: {params} parameters, vocabulary {len(tokenizer)} -> {out}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    build(Path(sys.argv[1]))
