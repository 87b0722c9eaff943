//! Chat templates against `transformers`' `apply_chat_template(…, add_generation_prompt=True)`
//! (`tests/fixtures/chat/*.json`, written by `scripts/fixtures_chat.py`): the rendered text and
//! its token ids, for the Qwen2.5 and SmolLM2 templates their GGUF files carry and the Gemma-3
//! instruct template read from a Hugging Face `tokenizer_config.json`.

use entroscope::model::{Bundled, ChatTemplate, Message, WeightDtype};
use entroscope::prelude::*;
use serde_json::Value;

use crate::common;

fn check(template: &str, lm: &Lm) {
    let p = common::fixture(&format!("chat/{template}.json"));
    let fx: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    for (name, case) in fx["cases"].as_object().unwrap() {
        let messages: Vec<Message> = case["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| Message::new(m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
            .collect();
        let text = lm.chat_prompt(&messages).unwrap();
        assert_eq!(
            text,
            case["text"].as_str().unwrap(),
            "{template} {name}: text"
        );
        let ids = lm.encode_chat(&messages).unwrap();
        let want: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(ids, want, "{template} {name}: ids");
    }
}

/// Tokenizer and template are what matter here: the quantized load skips dequantizing.
fn load(b: Bundled) -> Lm {
    common::bundled(b, WeightDtype::Quantized)
}

#[test]
fn qwen2_5_template_matches_transformers() {
    check("qwen2.5", &load(Bundled::QwenCoder0_5bInstruct));
}

#[test]
fn smollm2_template_matches_transformers() {
    check("smollm2", &load(Bundled::SmolLm2_135mInstruct));
}

#[test]
fn gemma3_template_from_tokenizer_config_matches_transformers() {
    let lm = load(Bundled::Gemma3_270m);
    // The base model ships no template: asking for one is a typed error that says what to do.
    match lm.chat_prompt(&[Message::user("hi")]) {
        Err(Error::NoChatTemplate { model }) => assert!(model.contains("gemma")),
        other => panic!("{other:?}"),
    }
    let config = common::fixture("chat/gemma-3-it/tokenizer_config.json");
    let template = ChatTemplate::from_tokenizer_config(&config)
        .unwrap()
        .unwrap();
    let lm = lm.with_chat_template(template);
    check("gemma-3", &lm);
    // Gemma's template raises on roles that do not alternate.
    match lm.chat_prompt(&[Message::user("a"), Message::user("b")]) {
        Err(Error::ChatTemplate { detail }) => assert!(detail.contains("alternate"), "{detail}"),
        other => panic!("{other:?}"),
    }
}
