//! Process-wide settings of candle's CPU backend and of the C allocator that a program should
//! make before its first tensor operation.

/// Spin iterations candle's element-wise worker threads wait before parking, unless the user set
/// `CANDLE_BARRIER_POOL_SPIN_LIMIT`. Candle's default (25 000, ≈ 0.7 ms) keeps the workers
/// spinning into the next matrix product, whose own threads then share the cores with them; a
/// short spin gives the cores back (`examples/bench_lens.rs` measures the forward either way).
pub const SPIN_LIMIT: &str = "2000";

/// Apply entroscope's CPU settings; settings the user made are kept. Call it first thing in
/// `main`, before the program starts threads of its own (it sets environment variables and
/// malloc's options).
///
/// - candle's spin limit: [`SPIN_LIMIT`], unless `CANDLE_BARRIER_POOL_SPIN_LIMIT` is set;
/// - on Linux with glibc, unless `GLIBC_TUNABLES`, `MALLOC_MMAP_MAX_` or `MALLOC_TRIM_THRESHOLD_`
///   is set: large blocks come from malloc's heap and freed ones stay there for the next
///   allocation ([`keep_freed_memory`]).
pub fn init_cpu() {
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", SPIN_LIMIT);
    }
    let tuned = [
        "GLIBC_TUNABLES",
        "MALLOC_MMAP_MAX_",
        "MALLOC_TRIM_THRESHOLD_",
    ];
    if tuned.iter().all(|v| std::env::var_os(v).is_none()) {
        let _ = keep_freed_memory();
    }
}

/// Make glibc's malloc serve large blocks from its heap instead of mapping each block over
/// 32 MiB afresh and unmapping it when freed, and keep up to 2 GiB of freed memory at the heap's
/// top instead of returning it. A forward pass allocates and frees such blocks in every layer (a
/// 1.5B model's MLP activations of 1024 tokens are 37 MiB each); fresh pages cost a fault and the
/// kernel's zeroing on every touch, and on a virtual machine the host's as well (perf,
/// Qwen2.5-1.5B's f32 forward of 8 × 128 tokens on a 2-core EPYC guest: the page faults' share
/// of its time fell from ~20 % to ~6 %, the peak RSS stayed). This holds for the main thread's
/// allocations, where tensors are made; other threads' arenas still map blocks over 64 MiB.
/// The cost: the heap's freed top, up to 2 GiB, is kept until the process ends. True where glibc
/// took the settings; a no-op (false) off Linux/glibc.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets malloc's parameters; it takes malloc's lock like any allocation.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

#[cfg(test)]
mod tests {
    /// glibc takes both settings (`mallopt` returns 1 on success), and a block over its usual
    /// 32 MiB mmap limit is then served and freed normally.
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_allocator_settings() {
        assert!(super::keep_freed_memory());
        let big = vec![1u8; 48 << 20];
        assert_eq!(big.iter().map(|&b| b as usize).sum::<usize>(), 48 << 20);
    }
}
