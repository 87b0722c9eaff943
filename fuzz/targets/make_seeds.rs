//! Writes the seed corpora under `fuzz/seeds/<target>/` from the real files: small GGUFs cut
//! from the bundled models (their metadata with the tokenizer arrays shortened to 512 tokens; one
//! re-sized to a one-block SmolLM2 with Q8_0 weights, so a seed reaches the full load), the
//! tiny models' `config.json`s, the prompt-file fixtures, and the chat templates of the bundled models and of Gemma-3-it.
//! Run by `scripts/fuzz.sh` when a target has no seeds; `cargo run --bin make_seeds` by hand.
use std::fs;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const VOCAB: usize = 512;

fn main() -> Res<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let repo = root.parent().ok_or("fuzz/ has no parent")?.to_path_buf();
    let seeds = root.join("seeds");
    let models = entroscope::model::models_dir();
    let dir = |t: &str| -> Res<PathBuf> {
        let d = seeds.join(t);
        fs::create_dir_all(&d)?;
        Ok(d)
    };

    let gguf = dir("gguf")?;
    for b in entroscope::model::Bundled::ALL {
        let path = models.join(b.file());
        if !path.exists() || fs::metadata(&path)?.len() > 600_000_000 {
            continue;
        }
        let content = Content::read(&mut fs::File::open(&path)?)?;
        let md = shortened(&content, &[])?;
        write_gguf(&gguf.join(format!("{}-metadata.gguf", b.name())), &md, &[])?;
        if content.metadata.get("general.architecture").and_then(|v| v.to_string().ok())
            == Some(&"llama".to_string())
        {
            let arch = [
                ("llama.embedding_length", 32u32),
                ("llama.block_count", 1),
                ("llama.feed_forward_length", 64),
                ("llama.attention.head_count", 2),
                ("llama.attention.head_count_kv", 1),
                ("llama.rope.dimension_count", 16),
                ("llama.context_length", 64),
            ];
            let md = shortened(&content, &arch)?;
            let t = |shape: &[usize], q: bool| -> Res<QTensor> {
                let x = (Tensor::randn(0f32, 0.1, shape, &Device::Cpu)?
                    + if shape.len() == 1 { 1.0 } else { 0.0 })?;
                let dtype = if q { GgmlDType::Q8_0 } else { GgmlDType::F32 };
                Ok(QTensor::quantize(&x, dtype)?)
            };
            let tensors = vec![
                ("token_embd.weight", t(&[VOCAB, 32], true)?),
                ("output_norm.weight", t(&[32], false)?),
                ("blk.0.attn_norm.weight", t(&[32], false)?),
                ("blk.0.attn_q.weight", t(&[32, 32], true)?),
                ("blk.0.attn_k.weight", t(&[16, 32], false)?),
                ("blk.0.attn_v.weight", t(&[16, 32], false)?),
                ("blk.0.attn_output.weight", t(&[32, 32], true)?),
                ("blk.0.ffn_norm.weight", t(&[32], false)?),
                ("blk.0.ffn_gate.weight", t(&[64, 32], true)?),
                ("blk.0.ffn_up.weight", t(&[64, 32], true)?),
                ("blk.0.ffn_down.weight", t(&[32, 64], true)?),
            ];
            write_gguf(&gguf.join(format!("{}-tiny.gguf", b.name())), &md, &tensors)?;
        }
    }

    let hf = dir("hf_config")?;
    for e in fs::read_dir(repo.join("tests/fixtures"))? {
        let d = e?.path();
        for f in ["config.json", "config.tf4.json"] {
            let src = d.join(f);
            if src.exists() {
                let name = d.file_name().and_then(|n| n.to_str()).unwrap_or("config");
                fs::copy(&src, hf.join(format!("{name}-{f}")))?;
            }
        }
    }

    let prompts = dir("prompts")?;
    for (k, ext) in ["txt", "jsonl", "csv"].iter().enumerate() {
        let body = fs::read(repo.join(format!("tests/fixtures/prompts/prompts.{ext}")))?;
        fs::write(prompts.join(ext), [vec![k as u8], body].concat())?;
    }
    let parquet = prompts.join("parquet.tmp.parquet");
    let df = entroscope::frame::frame_from_columns(vec![
        (
            "text",
            entroscope::frame::ColumnData::Str(vec!["The capital of France is".into(), "2+2=".into()]),
        ),
        ("id", entroscope::frame::ColumnData::Str(vec!["a".into(), "b".into()])),
    ])?;
    entroscope::frame::write_table(&df, &parquet)?;
    fs::write(prompts.join("parquet"), [vec![3u8], fs::read(&parquet)?].concat())?;
    fs::remove_file(&parquet)?;

    let chat = dir("chat_template")?;
    for b in entroscope::model::Bundled::ALL {
        let path = models.join(b.file());
        if !path.exists() {
            continue;
        }
        let content = Content::read(&mut fs::File::open(&path)?)?;
        if let Some(Value::String(t)) = content.metadata.get("tokenizer.chat_template") {
            fs::write(chat.join(b.name()), t)?;
        }
    }
    let gemma_it: serde_json::Value = serde_json::from_slice(&fs::read(
        repo.join("tests/fixtures/chat/gemma-3-it/tokenizer_config.json"),
    )?)?;
    if let Some(t) = gemma_it["chat_template"].as_str() {
        fs::write(chat.join("gemma-3-it"), t)?;
    }
    println!("seeds written under {}", seeds.display());
    Ok(())
}

/// The file's metadata with `overrides` and every array longer than [`VOCAB`] cut to it (the
/// merges kept only where both halves are among the kept tokens).
fn shortened(content: &Content, overrides: &[(&str, u32)]) -> Res<Vec<(String, Value)>> {
    let tokens: std::collections::HashSet<String> = match content.metadata.get("tokenizer.ggml.tokens") {
        Some(Value::Array(v)) => v
            .iter()
            .take(VOCAB)
            .filter_map(|t| t.to_string().ok().cloned())
            .collect(),
        _ => Default::default(),
    };
    let mut md: Vec<(String, Value)> = Vec::new();
    let mut keys: Vec<&String> = content.metadata.keys().collect();
    keys.sort();
    for k in keys {
        let v = &content.metadata[k];
        let v = match (k.as_str(), v) {
            ("tokenizer.ggml.merges", Value::Array(m)) => Value::Array(
                m.iter()
                    .filter(|m| {
                        m.to_string().ok().is_some_and(|s| {
                            s.split_once(' ').is_some_and(|(a, b)| {
                                tokens.contains(a)
                                    && tokens.contains(b)
                                    && tokens.contains(&format!("{a}{b}"))
                            })
                        })
                    })
                    .take(VOCAB)
                    .cloned()
                    .collect(),
            ),
            (_, Value::Array(a)) if a.len() > VOCAB => Value::Array(a[..VOCAB].to_vec()),
            _ => match overrides.iter().find(|(o, _)| o == k) {
                Some(&(_, n)) => Value::U32(n),
                None => v.clone(),
            },
        };
        md.push((k.clone(), v));
    }
    Ok(md)
}

fn write_gguf(path: &Path, md: &[(String, Value)], tensors: &[(&str, QTensor)]) -> Res<()> {
    let md: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut f = fs::File::create(path)?;
    gguf_file::write(&mut f, &md, &tensors)?;
    Ok(())
}
