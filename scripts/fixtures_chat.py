#!/usr/bin/env python3
"""Reference chat-template renderings for `src/model/chat.rs`, computed by Hugging Face transformers.

    ~/.cache/entroscope/peer-venv/bin/python scripts/fixtures_chat.py

For each template it loads the model's tokenizer from its GGUF file
(`AutoTokenizer.from_pretrained(dir, gguf_file=name)`, which reads `tokenizer.chat_template` from the
file) and records, for a few conversations, `apply_chat_template(messages, add_generation_prompt=True)`
as text (`tokenize=False`) and as ids (`tokenize=True`). Templates:
- qwen2.5: Qwen2.5-Coder-0.5B-Instruct's own template (the 1.5B's differs only in its tools branch);
- smollm2: SmolLM2-135M-Instruct's own template;
- gemma-3: the Gemma-3 instruct template (Gemma-3-270M base ships none), written here as the
  `chat_template` of `tests/fixtures/chat/gemma-3-it/tokenizer_config.json` (the file a Hugging
  Face directory of gemma-3-*-it carries) and set on the base model's GGUF tokenizer.
Writes tests/fixtures/chat/<template>.json.
"""

import json
import os
from pathlib import Path

import transformers
from transformers import AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "chat"
MODELS = Path(os.environ.get("ENTROSCOPE_MODELS", Path.home() / ".cache" / "entroscope" / "models"))

# transformers' convert_gemma3_weights_to_hf.py `_CHAT_TEMPLATE` (the gemma-3-*-it template).
GEMMA3_IT_TEMPLATE = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\\n'}}
{%- endif -%}
"""

CONVERSATIONS = {
    "request": [{"role": "user", "content": "Write a poem about city traffic."}],
    "system": [{"role": "system", "content": "You answer in one sentence."},
               {"role": "user", "content": "  Why is the sky blue?  "}],
    "turns": [{"role": "user", "content": "Hi!"},
              {"role": "assistant", "content": "Hello. How can I help?"},
              {"role": "user", "content": "Simulate a chat log about naïve café owners 😀"}],
}

TEMPLATES = {
    "qwen2.5": ("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", None),
    "smollm2": ("SmolLM2-135M-Instruct.Q4_1.gguf", None),
    "gemma-3": ("gemma-3-270m-q4_k_m.gguf", GEMMA3_IT_TEMPLATE),
}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    gemma_dir = OUT / "gemma-3-it"
    gemma_dir.mkdir(exist_ok=True)
    (gemma_dir / "tokenizer_config.json").write_text(json.dumps(
        {"bos_token": "<bos>", "eos_token": "<eos>", "chat_template": GEMMA3_IT_TEMPLATE},
        indent=1, ensure_ascii=False) + "\n")
    for name, (model, template) in TEMPLATES.items():
        tok = AutoTokenizer.from_pretrained(str(MODELS), gguf_file=model)
        if template is not None:
            tok.chat_template = template
        cases = {}
        for key, msgs in CONVERSATIONS.items():
            text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
            ids = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                          return_dict=False)
            if isinstance(ids, dict) or hasattr(ids, "input_ids"):
                ids = ids["input_ids"]
            cases[key] = {"messages": msgs, "text": text, "ids": list(map(int, ids))}
        res = {
            "template": name, "model": model,
            "produced_by": "scripts/fixtures_chat.py: transformers apply_chat_template("
                           "add_generation_prompt=True), tokenize=False and tokenize=True",
            "transformers": transformers.__version__,
            "template_source": "tests/fixtures/chat/gemma-3-it/tokenizer_config.json"
                               if template else "the GGUF's tokenizer.chat_template",
            "cases": cases,
        }
        dst = OUT / f"{name}.json"
        dst.write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {dst}: {cases['request']['text']!r}")


if __name__ == "__main__":
    main()
