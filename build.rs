//! The Makefile's shared build (see there) links with `-Cprefer-dynamic`, so our binaries, tests
//! and examples load the toolchain's `libstd-*.so` at run time. Cargo's rpath finds it relative to
//! `deps/`, which is wrong for the copy of a binary one folder up (`target/<host>/debug/entroscope`);
//! an absolute rpath to the toolchain's library folder lets that binary start on its own.
//!
//! With the `mkl` feature, it also links Intel MKL's single dynamic library `libmkl_rt.so.3` from
//! `ENTROSCOPE_MKL_LIB` (set by the `env.sh` that `scripts/setup-mkl.sh` writes), with an rpath to
//! that folder so the binaries find MKL and Intel's OpenMP runtime without `LD_LIBRARY_PATH`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_MKL").is_some() {
        link_mkl();
    }
    let prefer_dynamic = std::env::var("CARGO_ENCODED_RUSTFLAGS")
        .is_ok_and(|flags| flags.split('\x1f').any(|f| f.contains("prefer-dynamic")));
    let unix = std::env::var("CARGO_CFG_UNIX").is_ok();
    if !(prefer_dynamic && unix) {
        return;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let (Ok(out), Ok(target)) = (
        std::process::Command::new(rustc)
            .args(["--print", "sysroot"])
            .output(),
        std::env::var("TARGET"),
    ) else {
        return;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    println!("cargo:rustc-link-arg=-Wl,-rpath,{sysroot}/lib/rustlib/{target}/lib");
}

/// The `mkl` feature: `-l:libmkl_rt.so.3` (the wheels ship only the versioned name) from
/// `ENTROSCOPE_MKL_LIB`, plus an rpath to it; a build error naming the set-up script otherwise.
fn link_mkl() {
    println!("cargo:rerun-if-env-changed=ENTROSCOPE_MKL_LIB");
    let dir = std::env::var("ENTROSCOPE_MKL_LIB").unwrap_or_default();
    let lib = std::path::Path::new(&dir).join("libmkl_rt.so.3");
    if dir.is_empty() || !lib.is_file() {
        let why = if dir.is_empty() {
            "ENTROSCOPE_MKL_LIB is not set".to_string()
        } else {
            format!("ENTROSCOPE_MKL_LIB={dir} has no libmkl_rt.so.3")
        };
        println!(
            "cargo::error=the `mkl` feature needs Intel MKL, but {why}: run `scripts/setup-mkl.sh` \
             (or `make setup-mkl`), then `source ~/.cache/entroscope/mkl/current/env.sh` and build again"
        );
        return;
    }
    println!("cargo:rustc-link-search=native={dir}");
    println!("cargo:rustc-link-lib=dylib:+verbatim=libmkl_rt.so.3");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
}
