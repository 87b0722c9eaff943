//! `tokenizer_from_gguf` against Hugging Face transformers on the two real GGUF models.
//!
//! The references in `tests/fixtures/tokenizer/*.json` were computed by transformers 5.x loading the
//! same GGUF files (`scripts/fixtures_tokenizer.py`): token ids with and without special tokens,
//! decodes with and without special tokens, and a fingerprint of the backend tokenizer it built
//! (pipeline components verbatim; counts and FNV-1a 64 checksums of vocabulary, merges and added
//! tokens). A test whose GGUF file is missing is skipped with a message; the models directory is
//! `$ENTROSCOPE_MODELS` or `~/.cache/entroscope/models` (`scripts/fetch-models.sh` fetches them).
//!
//! `synthetic.json` covers the paths the two real models do not take with tiny vocabularies that
//! the script wrote as real GGUF files and loaded through transformers the same way; here their
//! metadata is rebuilt into a `gguf_file::Content`, so those tests always run.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use candle_core::quantized::gguf_file::{self, Content, Value as GgufValue};
use entroscope::model::tokenizer_from_gguf;
use serde_json::Value;
use tokenizers::Tokenizer;

fn fixture(stem: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tokenizer")
        .join(format!("{stem}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// The tokenizer built from the model's GGUF (a missing model fails the test, see `common`).
fn load(file: &str) -> Tokenizer {
    let path = crate::common::real_model(file);
    // Buffered: GGUF metadata is read value by value, and unbuffered that is ~5x slower.
    let mut reader = std::io::BufReader::new(std::fs::File::open(&path).expect("open gguf"));
    let content = gguf_file::Content::read(&mut reader).expect("read gguf metadata");
    let start = Instant::now();
    let tokenizer = tokenizer_from_gguf(&content).expect("build tokenizer");
    eprintln!(
        "{file}: tokenizer built in {:.3} s",
        start.elapsed().as_secs_f64()
    );
    tokenizer
}

/// FNV-1a 64 over the UTF-8 bytes of the chunks, as in `scripts/fixtures_tokenizer.py`.
fn fnv1a64(chunks: impl IntoIterator<Item = String>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for chunk in chunks {
        for &b in chunk.as_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn check_cases(tokenizer: &Tokenizer, fx: &Value) {
    let cases = fx["cases"].as_array().expect("cases");
    assert!(cases.len() >= 8, "fixture has too few cases");
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let add = case["add_special_tokens"].as_bool().expect("flag");
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).expect("ids");
        let got = tokenizer
            .encode(text, add)
            .expect("encode")
            .get_ids()
            .to_vec();
        if got != want {
            failures.push(format!(
                "{text:?} (add_special_tokens={add}):\n  hf   {want:?}\n  ours {got:?}"
            ));
            continue;
        }
        for (key, skip) in [("decoded", false), ("decoded_skip_special", true)] {
            let want = case[key].as_str().expect("decoded");
            let got = tokenizer.decode(&want_ids(case), skip).expect("decode");
            if got != want {
                failures.push(format!(
                    "decode {text:?} (skip_special={skip}):\n  hf   {want:?}\n  ours {got:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn want_ids(case: &Value) -> Vec<u32> {
    serde_json::from_value(case["ids"].clone()).expect("ids")
}

fn check_fingerprint(tokenizer: &Tokenizer, fx: &Value) {
    let want = &fx["fingerprint"];
    // Tokens transformers invents past the vocabulary (a class default the file lacks): not ours.
    for extra in want["added_beyond_vocab"].as_array().expect("list") {
        let content = extra[1].as_str().expect("content");
        assert_eq!(
            tokenizer.token_to_id(content),
            None,
            "{content} should not be added"
        );
    }
    let ours: Value =
        serde_json::from_str(&tokenizer.to_string(false).expect("serialize")).expect("json");
    for key in ["normalizer", "pre_tokenizer", "post_processor", "decoder"] {
        assert_eq!(ours[key], want[key], "{key} differs from transformers'");
    }
    let mut model = ours["model"].clone();
    let obj = model.as_object_mut().expect("model object");
    let vocab = obj.remove("vocab").expect("vocab");
    let merges = obj.remove("merges").expect("merges");
    assert_eq!(model, want["model"], "BPE settings differ");

    let mut by_id: Vec<(String, u64)> = vocab
        .as_object()
        .expect("vocab map")
        .iter()
        .map(|(t, id)| (t.clone(), id.as_u64().expect("id")))
        .collect();
    by_id.sort_by_key(|(_, id)| *id);
    assert_eq!(by_id.len() as u64, want["vocab_size"].as_u64().expect("n"));
    assert_eq!(
        fnv1a64(by_id.iter().map(|(t, id)| format!("{t}\t{id}\n"))),
        want["vocab_fnv"].as_str().expect("fnv"),
        "vocabulary differs"
    );

    let merges: Vec<(String, String)> = serde_json::from_value(merges).expect("merges as pairs");
    assert_eq!(
        merges.len() as u64,
        want["merges_count"].as_u64().expect("n")
    );
    let head: Vec<(String, String)> =
        serde_json::from_value(want["merges_head"].clone()).expect("head");
    let tail: Vec<(String, String)> =
        serde_json::from_value(want["merges_tail"].clone()).expect("tail");
    assert_eq!(merges[..head.len()], head[..], "first merges differ");
    assert_eq!(
        merges[merges.len() - tail.len()..],
        tail[..],
        "last merges differ"
    );
    assert_eq!(
        fnv1a64(merges.iter().map(|(a, b)| format!("{a} {b}\n"))),
        want["merges_fnv"].as_str().expect("fnv"),
        "merges differ (same ends, so the order or a middle entry)"
    );

    let mut added: Vec<&Value> = ours["added_tokens"]
        .as_array()
        .expect("added")
        .iter()
        .collect();
    added.sort_by_key(|a| a["id"].as_u64());
    assert_eq!(added.len() as u64, want["added_count"].as_u64().expect("n"));
    let special = added.iter().filter(|a| a["special"] == true).count() as u64;
    assert_eq!(special, want["added_special_count"].as_u64().expect("n"));
    let line = |a: &&Value| {
        format!(
            "{}\t{}\t{}\t{}\n",
            a["id"],
            a["content"].as_str().unwrap_or_default(),
            u8::from(a["special"] == true),
            u8::from(a["normalized"] == true)
        )
    };
    assert_eq!(
        fnv1a64(added.iter().map(line)),
        want["added_fnv"].as_str().expect("fnv"),
        "added tokens differ"
    );
    assert_eq!(
        tokenizer.get_vocab_size(true) as u64,
        want["vocab_size_with_added"].as_u64().expect("n")
    );
}

/// A `Content` holding the typed metadata of a synthetic fixture entry.
fn content_from_json(metadata: &Value) -> Content {
    let value = |typed: &Value| -> GgufValue {
        let (kind, v) = typed
            .as_object()
            .and_then(|o| o.iter().next())
            .expect("typed value");
        let list = || v.as_array().expect("array").iter();
        match kind.as_str() {
            "string" => GgufValue::String(v.as_str().expect("str").to_string()),
            "u32" => GgufValue::U32(v.as_u64().expect("u32") as u32),
            "bool" => GgufValue::Bool(v.as_bool().expect("bool")),
            "strings" => GgufValue::Array(
                list()
                    .map(|s| GgufValue::String(s.as_str().expect("str").to_string()))
                    .collect(),
            ),
            "i32s" => GgufValue::Array(
                list()
                    .map(|i| GgufValue::I32(i.as_i64().expect("i32") as i32))
                    .collect(),
            ),
            "f32s" => GgufValue::Array(
                list()
                    .map(|f| GgufValue::F32(f.as_f64().expect("f32") as f32))
                    .collect(),
            ),
            other => panic!("unknown fixture value type {other}"),
        }
    };
    let metadata: HashMap<String, GgufValue> = metadata
        .as_object()
        .expect("metadata object")
        .iter()
        .map(|(k, v)| (k.clone(), value(v)))
        .collect();
    Content {
        magic: gguf_file::VersionedMagic::GgufV3,
        metadata,
        tensor_infos: HashMap::new(),
        tensor_data_offset: 0,
    }
}

#[test]
fn synthetic_vocabularies_match_transformers() {
    let fx = fixture("synthetic");
    let entries = fx["tokenizers"].as_array().expect("tokenizers");
    let names: Vec<&str> = entries.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "llama2_like",
            "qwen2_like",
            "llama3_like",
            "phi3_like",
            "gemma_like"
        ]
    );
    for entry in entries {
        let name = entry["name"].as_str().expect("name");
        eprintln!("synthetic {name}");
        let tokenizer = tokenizer_from_gguf(&content_from_json(&entry["metadata"]))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        check_fingerprint(&tokenizer, entry);
        check_cases(&tokenizer, entry);
    }
}

#[test]
fn smollm2_matches_transformers() {
    let tokenizer = load("SmolLM2-135M-Instruct.Q4_1.gguf");
    let fx = fixture("SmolLM2-135M-Instruct.Q4_1");
    check_fingerprint(&tokenizer, &fx);
    check_cases(&tokenizer, &fx);
    // add_bos_token is false for SmolLM2: nothing is added around the text.
    assert_eq!(
        tokenizer
            .encode("Hello world", true)
            .expect("encode")
            .get_ids(),
        [19556, 905]
    );
}

#[test]
fn gemma3_matches_transformers() {
    let tokenizer = load("gemma-3-270m-q4_k_m.gguf");
    let fx = fixture("gemma-3-270m-q4_k_m");
    check_fingerprint(&tokenizer, &fx);
    check_cases(&tokenizer, &fx);
    // add_bos_token is true: <bos> (id 2) first, then "Hello" and "▁world".
    assert_eq!(
        tokenizer
            .encode("Hello world", true)
            .expect("encode")
            .get_ids(),
        [2, 9259, 1902]
    );
    assert_eq!(tokenizer.get_vocab_size(true), 262_144);
}

#[test]
fn decode_round_trips_plain_text() {
    // Text free of special-token look-alikes decodes back to itself (byte fallback and byte-level
    // make every string representable), with or without the BOS.
    let texts = [
        "  Hello,  world!\n\n\tcafé naïve 東京は日本の首都です 🙂🚀 1234567",
        "fn main() {\n    println!(\"{}\", 1);\n}\r\n",
        "",
        "   ",
        "Ελληνικά русский العربية हिन्दी 한국어 \u{0}\u{7f}",
    ];
    for file in [
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "gemma-3-270m-q4_k_m.gguf",
    ] {
        let tokenizer = load(file);
        for text in texts {
            let ids = tokenizer
                .encode(text, true)
                .expect("encode")
                .get_ids()
                .to_vec();
            let back = tokenizer.decode(&ids, true).expect("decode");
            assert_eq!(back, text, "{file}: {ids:?}");
        }
    }
}
