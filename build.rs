//! The Makefile's shared build (see there) links with `-Cprefer-dynamic`, so our binaries, tests
//! and examples load the toolchain's `libstd-*.so` at run time. Cargo's rpath finds it relative to
//! `deps/`, which is wrong for the copy of a binary one folder up (`target/<host>/debug/entroscope`);
//! an absolute rpath to the toolchain's library folder lets that binary start on its own.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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
