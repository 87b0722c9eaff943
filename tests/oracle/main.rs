//! Our forward pass, lens and tokenizer against Hugging Face `transformers` fixtures.

#[path = "../common/mod.rs"]
mod common;

mod chat_templates;
mod dtypes;
mod gguf_tokenizer;
mod lens_peer;
mod paper_scale;
mod real_models;
mod tiny_models;
