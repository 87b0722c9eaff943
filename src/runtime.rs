//! Process-wide settings of candle's CPU backend that a program should make before its first
//! tensor operation.

/// Spin iterations candle's element-wise worker threads wait before parking, unless the user set
/// `CANDLE_BARRIER_POOL_SPIN_LIMIT`. Candle's default (25 000, ≈ 0.7 ms) keeps the workers
/// spinning into the next matrix product, whose own threads then share the cores with them; a
/// short spin gives the cores back (`examples/bench_lens.rs` measures the forward either way).
pub const SPIN_LIMIT: &str = "2000";

/// Apply entroscope's CPU settings ([`SPIN_LIMIT`]); variables the user set are kept. Call it
/// first thing in `main`, before any other thread exists (it sets environment variables).
pub fn init_cpu() {
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", SPIN_LIMIT);
    }
}
