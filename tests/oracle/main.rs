//! Our forward pass, lens and tokenizer against Hugging Face `transformers` fixtures.

#[path = "../common/mod.rs"]
mod common;

mod tiny_models;
mod lens_peer;
mod real_models;
mod gguf_tokenizer;
