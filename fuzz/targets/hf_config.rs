//! A Hugging Face `config.json`: any JSON through the family its `model_type` names.
use entroscope::model::ArchSpec;

fn main() {
    afl::fuzz_nohook!(|data: &[u8]| {
        if let Ok(j) = serde_json::from_slice::<serde_json::Value>(data) {
            let _ = ArchSpec::from_hf_json(&j);
        }
    });
}
