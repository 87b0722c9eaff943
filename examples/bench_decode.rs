//! Generation speed: greedy, EDT, END and DoLa (tokens/s, same prompt, N new tokens), side by side
//! with Hugging Face transformers' greedy and DoLa on the same GGUF file (the peer,
//! `/work/shared/peer/lens_peer.py`), run back to back in this process's lifetime so that the
//! ratios compare like with like on a shared machine.
//!
//! ```text
//! cargo run --release --example bench_decode                         # SmolLM2, 128 tokens, + peer
//! cargo run --release --example bench_decode -- --new-tokens 32 --no-peer
//! cargo run --release --example bench_decode -- --model ~/.cache/entroscope/models/gemma-3-270m-q4_k_m.gguf
//! ```
//! Both sides generate exactly N tokens (`min_new_tokens = N`: EOS is never chosen) after a
//! 4-token warm-up, and tokens/s counts the prompt's forward pass
//! (the peer's definition). The peer runs once per torch thread count of `--threads` (default
//! `1,2`) and its best is reported: on a busy 2-core machine torch with 2 threads can be several
//! times slower than with 1 (its worker threads spin-wait for each other). Ours uses candle's
//! thread pool (`RAYON_NUM_THREADS`, default: all cores). Set
//! `ENTROSCOPE_PEER_PY` / `ENTROSCOPE_PEER_DIR` to point elsewhere. Peer DoLa needs transformers
//! 4.55.4 in `~/.cache/entroscope/peer-tf4`.

use std::path::PathBuf;
use std::process::Command;

use entroscope::decode::{
    generate, Baseline, Decoder, Dola, Edt, EdtParams, End, GenerateOptions, Generation,
};
use entroscope::Lm;

struct Args {
    model: String,
    prompt: String,
    new_tokens: usize,
    peer: bool,
    threads: Vec<usize>,
    repeats: usize,
}

fn args() -> Args {
    let mut a = Args {
        model: entroscope::model::default_model_path(),
        prompt: "The capital of France is".into(),
        new_tokens: 128,
        peer: true,
        threads: vec![1, 2],
        repeats: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().unwrap_or_default();
        match k.as_str() {
            "--model" => a.model = val(),
            "--prompt" => a.prompt = val(),
            "--new-tokens" => a.new_tokens = val().parse().unwrap_or(128),
            "--threads" => {
                a.threads = val().split(',').filter_map(|t| t.parse().ok()).collect();
            }
            "--repeats" => a.repeats = val().parse().unwrap_or(1).max(1),
            "--no-peer" => a.peer = false,
            other => {
                eprintln!("unknown argument {other}; see the file's docs");
                std::process::exit(2);
            }
        }
    }
    a
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// Run the peer in `mode` (gen / dola); returns (tokens/s, ids) or a reason.
fn peer(a: &Args, mode: &str, threads: usize) -> Result<(f64, Vec<u64>), String> {
    let py = std::env::var("ENTROSCOPE_PEER_PY")
        .map(PathBuf::from)
        .unwrap_or_else(|_| home().join(".cache/entroscope/peer-venv/bin/python"));
    let dir = std::env::var("ENTROSCOPE_PEER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/work/shared/peer"));
    let mut cmd = Command::new(py);
    cmd.arg(dir.join("lens_peer.py"))
        .args(["--mode", mode, "--model", &a.model, "--prompt", &a.prompt])
        .args(["--new-tokens", &a.new_tokens.to_string()])
        .args(["--threads", &threads.to_string()]);
    if mode == "dola" {
        // transformers 4.55.4, and a shim that hides the venv's transformers-5-only `kernels`.
        let shim = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/peer-tf4-shim");
        let tf4 = home().join(".cache/entroscope/peer-tf4");
        cmd.env(
            "PYTHONPATH",
            format!("{}:{}", tf4.display(), shim.display()),
        );
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run the peer: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String = err
            .chars()
            .rev()
            .take(400)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(format!("peer {mode} failed: {tail}"));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let tps = v["tokens_per_s"].as_f64().ok_or("no tokens_per_s")?;
    let ids = v["ids"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_u64()).collect())
        .unwrap_or_default();
    Ok((tps, ids))
}

fn ours(lm: &Lm, a: &Args, d: &mut dyn Decoder) -> entroscope::Result<Generation> {
    // warm-up, like the peer's
    generate(lm, &a.prompt, d, &GenerateOptions::exactly(4))?;
    let mut best: Option<Generation> = None;
    for _ in 0..a.repeats {
        let g = generate(lm, &a.prompt, d, &GenerateOptions::exactly(a.new_tokens))?;
        if best.as_ref().is_none_or(|b| g.seconds < b.seconds) {
            best = Some(g);
        }
    }
    best.ok_or_else(|| entroscope::Error::NotEnoughData("no run".into()))
}

fn main() -> entroscope::Result<()> {
    entroscope::runtime::init_cpu();
    let a = args();
    let lm = Lm::load(&a.model)?;
    println!("{lm}");
    println!(
        "prompt {:?}, {} new tokens, best of {}",
        a.prompt, a.new_tokens, a.repeats
    );
    let mut decoders: Vec<(&str, Box<dyn Decoder>)> = vec![
        ("greedy", Box::new(Baseline::greedy())),
        ("edt", Box::new(Edt::new(EdtParams::default())?.seed(1))),
        ("end", Box::new(End::generation())),
        ("dola", Box::new(Dola::new())),
    ];
    let mut ours_tps = Vec::new();
    let mut greedy_spt = 0.0;
    println!(
        "\n{:<8} {:>10} {:>12} {:>12}",
        "method", "tokens/s", "ms/token", "× greedy t"
    );
    let mut ids_of = std::collections::HashMap::new();
    for (name, d) in decoders.iter_mut() {
        let g = ours(&lm, &a, d.as_mut())?;
        let tps = g.tokens_per_second();
        let spt = g.seconds / g.ids.len().max(1) as f64;
        if *name == "greedy" {
            greedy_spt = spt;
        }
        println!(
            "{:<8} {:>10.2} {:>12.2} {:>12.3}",
            name,
            tps,
            spt * 1e3,
            spt / greedy_spt
        );
        ids_of.insert(
            *name,
            g.ids.iter().map(|&x| u64::from(x)).collect::<Vec<u64>>(),
        );
        ours_tps.push((*name, tps));
    }
    if !a.peer {
        return Ok(());
    }
    println!(
        "\npeer (transformers; best of torch threads {:?}), run now:",
        a.threads
    );
    println!(
        "{:<8} {:>10} {:>10} {:>14} {:>10}",
        "method", "ours t/s", "peer t/s", "ours / peer", "same ids"
    );
    for (name, mode) in [("greedy", "gen"), ("dola", "dola")] {
        let o = ours_tps
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0.0, |x| x.1);
        let mut best: Result<(f64, Vec<u64>), String> = Err("no thread count".into());
        for &t in &a.threads {
            let r = peer(&a, mode, t);
            if let Ok((tps, _)) = &r {
                eprintln!("peer {mode}, {t} threads: {tps:.2} tokens/s");
            }
            best = match (best, r) {
                (Ok(b), Ok(r)) => Ok(if r.0 > b.0 { r } else { b }),
                (Ok(b), Err(_)) => Ok(b),
                (Err(_), r) => r,
            };
        }
        match best {
            Ok((p, ids)) => {
                let same = match ids_of.get(name) {
                    Some(ours) if *ours == ids => "yes".to_string(),
                    Some(ours) => match ours.iter().zip(&ids).position(|(a, b)| a != b) {
                        Some(i) => format!("to {i}"),
                        None => format!("len {}≠{}", ours.len(), ids.len()),
                    },
                    None => "-".into(),
                };
                println!("{name:<8} {o:>10.2} {p:>10.2} {:>14.2} {same:>10}", o / p)
            }
            Err(e) => println!("{name:<8} {o:>10.2}  (peer unavailable: {e})"),
        }
    }
    Ok(())
}
