//! The Makefile's shared build (see there) links with `-Cprefer-dynamic`, so our binaries, tests
//! and examples load the toolchain's `libstd-*.so` at run time. Cargo's rpath finds it relative to
//! `deps/`, which is wrong for the copy of a binary one folder up (`target/<host>/debug/entroscope`);
//! an absolute rpath to the toolchain's library folder lets that binary start on its own.
//!
//! With the `mkl` feature, it also links Intel MKL's single dynamic library `libmkl_rt.so.3` from
//! `ENTROSCOPE_MKL_LIB` (set by the `env.sh` that `scripts/setup-mkl.sh` writes), with an rpath to
//! that folder so the binaries find MKL and Intel's OpenMP runtime without `LD_LIBRARY_PATH`; with
//! the `openblas` feature, `libscipy_openblas.so` from `ENTROSCOPE_OPENBLAS_LIB`
//! (`scripts/setup-openblas.sh`) the same way.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_MKL").is_some() {
        link_backend("mkl", "ENTROSCOPE_MKL_LIB", "libmkl_rt.so.3");
    }
    if std::env::var_os("CARGO_FEATURE_OPENBLAS").is_some() {
        link_backend(
            "openblas",
            "ENTROSCOPE_OPENBLAS_LIB",
            "libscipy_openblas.so",
        );
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

/// A matmul backend's feature: `-l:{lib}` (verbatim: MKL's wheels ship only the versioned name)
/// from the folder in `var`, plus an rpath to it; a build error naming the set-up script
/// (`scripts/setup-{feature}.sh`) otherwise.
fn link_backend(feature: &str, var: &str, lib: &str) {
    println!("cargo:rerun-if-env-changed={var}");
    let dir = std::env::var(var).unwrap_or_default();
    if dir.is_empty() || !std::path::Path::new(&dir).join(lib).is_file() {
        let why = if dir.is_empty() {
            format!("{var} is not set")
        } else {
            format!("{var}={dir} has no {lib}")
        };
        println!(
            "cargo::error=the `{feature}` feature needs {lib}, but {why}: run \
             `scripts/setup-{feature}.sh` (or `make setup-{feature}`), then \
             `source ~/.cache/entroscope/{feature}/current/env.sh` and build again"
        );
        return;
    }
    println!("cargo:rustc-link-search=native={dir}");
    println!("cargo:rustc-link-lib=dylib:+verbatim={lib}");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
}
