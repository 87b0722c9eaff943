//! Bad input gives a typed error with advice, never a panic.

use crate::common;

use std::path::PathBuf;

use crate::common::fixture;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use entroscope::prelude::*;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("entroscope-bad-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// A copy of a tiny model directory with one file changed.
fn tiny_copy(name: &str, edit: impl Fn(&PathBuf)) -> PathBuf {
    let dir = tmp(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let src = fixture("tiny-llama");
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    edit(&dir);
    dir
}

/// Write a small GGUF file with the given metadata and tensors.
fn write_gguf(path: &PathBuf, md: Vec<(&str, Value)>, tensors: Vec<(&str, Tensor)>) {
    let qt: Vec<(String, QTensor)> = tensors
        .into_iter()
        .map(|(n, t)| {
            (
                n.to_string(),
                QTensor::quantize(&t, GgmlDType::F32).unwrap(),
            )
        })
        .collect();
    let md_refs: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (*k, v)).collect();
    let t_refs: Vec<(&str, &QTensor)> = qt.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut f = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut f, &md_refs, &t_refs).unwrap();
}

fn llama_md(arch: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("general.architecture", Value::String(arch.to_string())),
        ("llama.block_count", Value::U32(1)),
        ("llama.embedding_length", Value::U32(8)),
        ("llama.feed_forward_length", Value::U32(16)),
        ("llama.attention.head_count", Value::U32(2)),
        ("llama.context_length", Value::U32(32)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        (
            "tokenizer.ggml.tokens",
            Value::Array((0..16).map(|i| Value::String(format!("t{i}"))).collect()),
        ),
        ("tokenizer.ggml.merges", Value::Array(vec![])),
    ]
}

#[test]
fn missing_file() {
    let err = Lm::load("/definitely/not/here.gguf").unwrap_err();
    assert!(matches!(err, Error::FileNotFound { .. }), "{err}");
    assert!(err.to_string().contains("make models"));
    let err = Lm::from_gguf("/definitely/not/here.gguf").unwrap_err();
    assert!(matches!(err, Error::FileNotFound { .. }), "{err}");
    let err = Lm::from_hf_dir("/definitely/not/here").unwrap_err();
    assert!(matches!(err, Error::FileNotFound { .. }), "{err}");
}

#[test]
fn wrong_magic() {
    let p = tmp("not-gguf.gguf");
    std::fs::write(&p, b"PK\x03\x04 this is a zip, not a gguf file").unwrap();
    let err = Lm::load(p.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, Error::BadMagic { .. }), "{err}");
    let p = tmp("tiny.gguf");
    std::fs::write(&p, b"GG").unwrap();
    let err = Lm::from_gguf(&p).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
}

#[test]
fn truncated_gguf() {
    // A valid small file cut in the middle of its tensor data, and one cut inside the header.
    let p = tmp("full.gguf");
    let t = Tensor::zeros((16, 8), candle_core::DType::F32, &Device::Cpu).unwrap();
    write_gguf(&p, llama_md("llama"), vec![("token_embd.weight", t)]);
    let bytes = std::fs::read(&p).unwrap();
    for (name, keep) in [
        ("cut-data.gguf", bytes.len() - 100),
        ("cut-header.gguf", 40),
    ] {
        let q = tmp(name);
        std::fs::write(&q, &bytes[..keep]).unwrap();
        let err = Lm::from_gguf(&q).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{name}: {err}");
        assert!(err.to_string().contains("download it again"), "{err}");
    }
    // The real model, truncated, when it is there.
    {
        let real = common::real_model(entroscope::model::Bundled::SmolLm2_135mInstruct.file());
        let data = std::fs::read(real).unwrap();
        let q = tmp("smol-cut.gguf");
        std::fs::write(&q, &data[..data.len() / 2]).unwrap();
        let err = Lm::from_gguf(&q).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    }
}

#[test]
fn unknown_architecture() {
    let p = tmp("mamba.gguf");
    let t = Tensor::zeros((16, 8), candle_core::DType::F32, &Device::Cpu).unwrap();
    write_gguf(&p, llama_md("mamba"), vec![("token_embd.weight", t)]);
    let err = Lm::from_gguf(&p).unwrap_err();
    assert!(
        matches!(err, Error::UnknownArchitecture { ref arch, .. } if arch == "mamba"),
        "{err}"
    );
    let dir = tiny_copy("arch", |d| {
        let c = std::fs::read_to_string(d.join("config.json")).unwrap();
        std::fs::write(d.join("config.json"), c.replace("\"llama\"", "\"rwkv\"")).unwrap();
    });
    let err = Lm::from_hf_dir(&dir).unwrap_err();
    assert!(matches!(err, Error::UnknownArchitecture { .. }), "{err}");
}

#[test]
fn missing_tensor() {
    // GGUF with only the embedding: the first block's tensors are missing.
    let p = tmp("no-blocks.gguf");
    let t = Tensor::zeros((16, 8), candle_core::DType::F32, &Device::Cpu).unwrap();
    write_gguf(&p, llama_md("llama"), vec![("token_embd.weight", t)]);
    let err = Lm::from_gguf(&p).unwrap_err();
    assert!(matches!(err, Error::MissingTensor { .. }), "{err}");
    // HF directory whose safetensors lacks a tensor.
    let dir = tiny_copy("missing", |d| {
        let st = candle_core::safetensors::load(d.join("model.safetensors"), &Device::Cpu).unwrap();
        let kept: std::collections::HashMap<String, Tensor> = st
            .into_iter()
            .filter(|(k, _)| k != "model.layers.1.mlp.up_proj.weight")
            .collect();
        candle_core::safetensors::save(&kept, d.join("model.safetensors")).unwrap();
    });
    let err = Lm::from_hf_dir(&dir).unwrap_err();
    assert!(
        matches!(err, Error::MissingTensor { ref name, .. } if name == "model.layers.1.mlp.up_proj.weight"),
        "{err}"
    );
}

#[test]
fn config_shapes_do_not_match_weights() {
    let dir = tiny_copy("shapes", |d| {
        let c = std::fs::read_to_string(d.join("config.json")).unwrap();
        std::fs::write(
            d.join("config.json"),
            c.replace("\"intermediate_size\": 64", "\"intermediate_size\": 96"),
        )
        .unwrap();
    });
    let err = Lm::from_hf_dir(&dir).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
    assert!(err.to_string().contains("does not match"));
}

#[test]
fn empty_and_too_long_prompts() {
    let lm = Lm::from_hf_dir(fixture("tiny-llama")).unwrap();
    assert!(matches!(lm.encode("").unwrap_err(), Error::EmptyPrompt));
    let err = lm
        .trace(&[], &CaptureSpec::default(), &mut NoHook)
        .unwrap_err();
    assert!(matches!(err, Error::EmptyPrompt), "{err}");
    // a batch: none, or sequences of different lengths (no padding: group prompts by length)
    let err = lm
        .trace_batch(&[], &CaptureSpec::default(), &mut NoHook)
        .unwrap_err();
    assert!(matches!(err, Error::EmptyPrompt), "{err}");
    let err = lm
        .trace_batch(&[&[1, 2, 3], &[1, 2]], &CaptureSpec::default(), &mut NoHook)
        .unwrap_err();
    assert!(err.to_string().contains("one length"), "{err}");
    let max = lm.config().max_position_embeddings;
    let long = vec![5u32; max + 1];
    let err = lm
        .trace(&long, &CaptureSpec::default(), &mut NoHook)
        .unwrap_err();
    assert!(
        matches!(err, Error::PromptTooLong { len, max: m } if len == max + 1 && m == max),
        "{err}"
    );
    // continuing a cache past the window is caught too
    let mut cache = lm.new_cache();
    lm.forward(&vec![5u32; max], &mut cache, &mut NoHook)
        .unwrap();
    let err = lm.forward(&[5], &mut cache, &mut NoHook).unwrap_err();
    assert!(matches!(err, Error::PromptTooLong { .. }), "{err}");
    let err = lm
        .trace(&[1, 100_000], &CaptureSpec::default(), &mut NoHook)
        .unwrap_err();
    assert!(
        matches!(err, Error::TokenOutOfVocab { id: 100_000, .. }),
        "{err}"
    );
    let tr = lm
        .trace(&[1, 2, 3], &CaptureSpec::default(), &mut NoHook)
        .unwrap();
    assert!(matches!(
        tr.layer(99).unwrap_err(),
        Error::LayerOutOfRange { layer: 99, .. }
    ));
}

#[test]
fn unknown_or_unavailable_devices_and_dtypes() {
    use entroscope::model::{parse_device, LoadOptions, WeightDtype};
    let err = parse_device("tpu").unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
    assert!(err.to_string().contains("cuda:N"), "{err}");
    let err = parse_device("cuda:x").unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
    // Without the feature there is no CUDA; with it, this machine may still have no GPU: either
    // way the error is typed and names the way out.
    if let Err(err) = parse_device("cuda") {
        assert!(matches!(err, Error::DeviceUnavailable { .. }), "{err}");
        assert!(err.to_string().contains("--device cpu"), "{err}");
    }
    let err = "int3".parse::<WeightDtype>().unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
    assert!(err.to_string().contains("bf16"), "{err}");
    // safetensors hold no quantized blocks
    let opts = LoadOptions::default().dtype(WeightDtype::Quantized);
    let err = Lm::from_hf_dir_with(fixture("tiny-llama"), &opts).unwrap_err();
    assert!(err.to_string().contains("GGUF"), "{err}");
}

#[test]
fn cli_refuses_bad_device_and_dtype() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_entroscope"))
            .args(args)
            .output()
            .unwrap()
    };
    let model = fixture("tiny-llama");
    let model = model.to_str().unwrap();
    let out = run(&["top", "--model", model, "--prompt", "hi", "--dtype", "int3"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dtype") && stderr.contains("bf16"),
        "{stderr}"
    );
    let out = run(&["top", "--model", model, "--prompt", "hi", "--device", "tpu"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cuda:N"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A model larger than the memory allowed is refused before loading, with the need, what is
/// available and the cheaper choice; forcing loads it. The need of SmolLM2-135M in f32 is at
/// least its 134.5M parameters × 4 bytes (the file's own tensor count), and quantized it is
/// smaller.
#[test]
fn model_too_large_for_memory() {
    use entroscope::model::{LoadOptions, MemoryCheck, WeightDtype};
    let path = common::real_model(entroscope::model::Bundled::SmolLm2_135mInstruct.file());
    let path = path.display().to_string();
    let budget = LoadOptions::default().memory(MemoryCheck::Budget(300 << 20));
    let err = Lm::load_with(&path, &budget).unwrap_err();
    let Error::InsufficientMemory {
        need_gib,
        available_gib,
        ref hint,
        ..
    } = err
    else {
        panic!("expected InsufficientMemory, got {err}");
    };
    assert!(
        need_gib * (1u64 << 30) as f64 >= 134.5e6 * 4.0,
        "{need_gib}"
    );
    assert!((available_gib - 300.0 / 1024.0).abs() < 1e-9);
    assert!(hint.contains("--dtype quantized"), "{err}");
    let quantized = budget.clone().dtype(WeightDtype::Quantized);
    let err_q = Lm::load_with(&path, &quantized.clone().memory(MemoryCheck::Budget(1)));
    match err_q {
        Err(Error::InsufficientMemory { need_gib: q, .. }) => assert!(q < need_gib, "{q}"),
        other => panic!("expected InsufficientMemory, got {other:?}"),
    }
    assert!(Lm::load_with(&path, &budget.memory(MemoryCheck::Force)).is_ok());
    // safetensors directories are checked too
    let tiny = fixture("tiny-llama").display().to_string();
    let one_byte = LoadOptions::default().memory(MemoryCheck::Budget(1));
    assert!(matches!(
        Lm::load_with(&tiny, &one_byte),
        Err(Error::InsufficientMemory { .. })
    ));
}

/// Inputs the `prompts` fuzzer found (`make fuzz TARGET=prompts`): malformed Parquet files that
/// made polars' decoder panic, decoded into columns of different lengths (which indexed past a
/// column in our prompt reader), or whose footer claimed a list so long that polars' metadata
/// reader asked for 193 GB and aborted. Each must be a typed prompt-file error, never a panic
/// or an abort.
#[test]
fn fuzzed_parquet_prompt_files_are_typed_errors() {
    let dir = fixture("fuzz/prompts");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let err =
            entroscope::data::load_prompts(&path).expect_err(&format!("{} loaded", path.display()));
        assert!(
            matches!(err, Error::PromptFile { .. }),
            "{}: {err}",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 10, "{n} fuzzed files in {}", dir.display());
}

/// GGUFs the `gguf` fuzzer found: Gemma-3 metadata whose `block_count` is 520 million (46 s and
/// 8.4 GB before a tensor was found missing) or 3.9 billion (14 s and 3.8 GB spent on per-layer
/// flags before the size check). Now the depth is refused as soon as it is read (a
/// missing-tensor error here would mean it was not).
#[test]
fn fuzzed_gguf_with_absurd_depth_is_refused_up_front() {
    for f in [
        "fuzz/gguf-block-count.gguf",
        "fuzz/gguf-block-count-4g.gguf",
    ] {
        let err = Lm::from_gguf(fixture(f)).unwrap_err();
        assert!(
            matches!(&err, Error::Config { key, .. } if key == "num_hidden_layers"),
            "{f}: {err}"
        );
    }
}
