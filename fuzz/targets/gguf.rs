//! A GGUF file as a user passes it: candle's reader, then ours (the architecture from the
//! metadata, the tokenizer assembled from its arrays) in memory, then a full load through a file
//! (tensor index, block sizes, the memory check). Only a panic, abort or hang is a finding.
use std::io::Cursor;

use candle_core::quantized::gguf_file::Content;
use entroscope::model::{tokenizer_from_gguf, ArchSpec};

fn main() {
    let path = std::env::temp_dir().join(format!("entroscope-fuzz-{}.gguf", std::process::id()));
    afl::fuzz_nohook!(|data: &[u8]| {
        if let Ok(content) = Content::read(&mut Cursor::new(data)) {
            if let Ok(tok) = tokenizer_from_gguf(&content) {
                let _ = tok.encode("The capital of France is Paris.", true);
            }
            let _ = ArchSpec::from_gguf(&content.metadata, 64);
        }
        if std::fs::write(&path, data).is_ok() {
            let _ = entroscope::Lm::from_gguf(&path);
        }
    });
}
