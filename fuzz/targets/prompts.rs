//! A prompt file: the first byte picks the format (txt, jsonl, csv, parquet), the rest is the file.
fn main() {
    let dir = std::env::temp_dir().join(format!("entroscope-fuzz-prompts-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let exts = ["txt", "jsonl", "csv", "parquet"];
    afl::fuzz_nohook!(|data: &[u8]| {
        let Some((&k, body)) = data.split_first() else {
            return;
        };
        let path = dir.join(format!("prompts.{}", exts[usize::from(k) % exts.len()]));
        if std::fs::write(&path, body).is_ok() {
            let _ = entroscope::data::load_prompts(&path);
        }
    });
}
