//! Whether a model fits before it is loaded: what its weights take at the chosen dtype, plus the
//! transient copy loading makes and a margin for the analysis, against the memory this process
//! may still use. A model too large is a typed error that names the cheaper choice, instead of
//! the kernel's OOM killer half-way through.

use std::path::{Path, PathBuf};

use candle_core::quantized::{gguf_file, GgmlDType};

use super::{LoadOptions, WeightDtype};
use crate::{Error, Result};

/// What to do when a model may not fit in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemoryCheck {
    /// Refuse with [`Error::InsufficientMemory`] when the estimate exceeds the memory available
    /// (`MemAvailable`, lowered by a cgroup limit where one is set). The default.
    #[default]
    Refuse,
    /// Load whatever the estimate says (`--force-load`).
    Force,
    /// Refuse above this many bytes, whatever the machine has (a share of a node, tests).
    Budget(u64),
}

/// Beyond the weights: activations, the lens's logits (a few 64 MiB chunks, or one product of
/// [`crate::lens::MIN_PRODUCT_ROWS`] rows: 0.4 GiB at a 262k vocabulary), a prompt's KV cache,
/// the tokenizer. This covers ordinary runs; batched scoring at paper scale takes more (the
/// README's measurements).
const ANALYSIS_MARGIN: u64 = 768 << 20;

/// Bytes a model needs in memory, estimated from its tensors before any is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// The weights as they will be held.
    pub weights: u64,
    /// The largest tensor as f32 while it is converted to a narrower dtype (one at a time).
    pub transient: u64,
}

impl MemoryEstimate {
    /// Weights, the transient copy and [`ANALYSIS_MARGIN`].
    pub fn total(&self) -> u64 {
        self.weights + self.transient + ANALYSIS_MARGIN
    }

    /// A GGUF file's tensors at `dtype`. Quantized: linear layers keep the file's blocks (plus
    /// the second copy candle's x86 kernel makes of Q4_K, Q6_K and Q8_0 blocks), the head is
    /// f32, and so is the embedding unless an untied head lets it keep its blocks.
    pub(crate) fn gguf(content: &gguf_file::Content, dtype: WeightDtype, cpu: bool) -> Self {
        // With an untied head, a quantized model on the CPU keeps the embedding's blocks too.
        let untied = content.tensor_infos.contains_key("output.weight");
        let mut weights = 0u64;
        let mut largest = 0u64;
        for (name, info) in &content.tensor_infos {
            let elems = info.shape.elem_count() as u64;
            let blocks =
                elems / info.ggml_dtype.block_size() as u64 * info.ggml_dtype.type_size() as u64;
            largest = largest.max(elems * 4);
            let embedding = name.starts_with("token_embd");
            let dense = name.starts_with("output.") || (embedding && !(untied && cpu));
            let repacked = cfg!(target_arch = "x86_64")
                && cpu
                && !embedding
                && matches!(
                    info.ggml_dtype,
                    GgmlDType::Q4K | GgmlDType::Q6K | GgmlDType::Q8_0
                );
            weights += match dtype {
                WeightDtype::F32 => elems * 4,
                WeightDtype::Bf16 | WeightDtype::F16 => elems * 2,
                WeightDtype::Quantized if dense || info.shape.rank() < 2 => elems * 4,
                WeightDtype::Quantized if repacked => 2 * blocks,
                WeightDtype::Quantized => blocks,
            };
        }
        // A tied head is the embedding's storage; an untied one is its own tensor, counted above.
        Self {
            weights,
            // f32 and quantized tensors are read as they are held; bf16/f16 pass through f32.
            transient: match dtype {
                WeightDtype::Bf16 | WeightDtype::F16 => largest,
                WeightDtype::F32 | WeightDtype::Quantized => 0,
            },
        }
    }

    /// Safetensors files' tensors (`(elements, bytes per element in the file)`) at `dtype`:
    /// every tensor is read as f32 and then converted.
    pub(crate) fn dense(tensors: impl Iterator<Item = usize>, dtype: WeightDtype) -> Self {
        let per = match dtype {
            WeightDtype::Bf16 | WeightDtype::F16 => 2,
            _ => 4,
        };
        let (mut weights, mut largest) = (0u64, 0u64);
        for elems in tensors {
            weights += elems as u64 * per;
            largest = largest.max(elems as u64 * 4);
        }
        Self {
            weights,
            transient: largest,
        }
    }
}

/// Bytes this process may still allocate: `MemAvailable` from `/proc/meminfo`, lowered by the
/// room left in its memory cgroup and every cgroup above it ([`cgroup_room`]). `None` where
/// neither can be read (not Linux): then nothing is refused.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let host = meminfo.as_deref().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|own| cgroup_room(Path::new("/sys/fs/cgroup"), &own));
    match (host, cgroup) {
        (Some(h), Some(c)) => Some(h.min(c)),
        (h, c) => h.or(c),
    }
}

/// The room left in the memory cgroup named by `own` (the text of `/proc/self/cgroup`) under
/// the cgroup mount `root`: the least, over that cgroup and each one above it, of its limit less
/// its usage (v2 `memory.max − memory.current`, v1 `limit_in_bytes − usage_in_bytes`), the
/// reclaimable page cache (`inactive_file`) not counted as used, as docker and the kubelet do.
/// A process in a nested cgroup (a SLURM job step, a systemd slice) is bounded by it and its
/// ancestors; inside a container the path is `/`, or missing under the mount, and the mount's
/// root is the container's cgroup. `None` without a limit.
fn cgroup_room(root: &Path, own: &str) -> Option<u64> {
    let v2 = root.join("cgroup.controllers").exists();
    let (base, path, files) = if v2 {
        let p = own.lines().find_map(|l| l.strip_prefix("0::"))?;
        (
            root.to_path_buf(),
            p,
            ["memory.max", "memory.current", "inactive_file "],
        )
    } else {
        let p = own.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
            controllers
                .split(',')
                .any(|c| c == "memory")
                .then_some(path)
        })?;
        (
            root.join("memory"),
            p,
            [
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
                "total_inactive_file ",
            ],
        )
    };
    let read = |p: PathBuf| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    let room_in = |dir: &Path| -> Option<u64> {
        // v2 writes "max" for no limit (not a number); v1 a huge number, which `min` ignores
        let max = read(dir.join(files[0]))?;
        let used = read(dir.join(files[1]))?;
        let cache = std::fs::read_to_string(dir.join("memory.stat"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix(files[2]))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
            .unwrap_or(0);
        Some(max.saturating_sub(used.saturating_sub(cache)))
    };
    let mut dir = base.join(path.trim_start_matches('/'));
    let mut room: Option<u64> = None;
    loop {
        if let Some(r) = room_in(&dir) {
            room = Some(room.map_or(r, |x| x.min(r)));
        }
        if dir == base || !dir.pop() || !dir.starts_with(&base) {
            break;
        }
    }
    room
}

/// Refuse `model` when `need` exceeds what `opts` allows, naming the cheaper choice. Only the
/// CPU is checked: candle does not report a GPU's free memory.
pub(crate) fn check(
    model: &str,
    need: &MemoryEstimate,
    opts: &LoadOptions,
    quantizable: bool,
) -> Result<()> {
    if !opts.device.is_cpu() {
        return Ok(());
    }
    let available = match opts.memory {
        MemoryCheck::Force => return Ok(()),
        MemoryCheck::Budget(b) => b,
        MemoryCheck::Refuse => match available_memory() {
            Some(a) => a,
            None => return Ok(()),
        },
    };
    if need.total() <= available {
        return Ok(());
    }
    let hint = match opts.dtype {
        WeightDtype::F32 | WeightDtype::Bf16 | WeightDtype::F16 if quantizable => {
            "--dtype quantized keeps the file's blocks (a fraction of the size)"
        }
        WeightDtype::F32 => "--dtype bf16 halves the weights",
        _ => "a smaller model, or a machine with more memory",
    };
    Err(Error::InsufficientMemory {
        model: model.to_string(),
        dtype: opts.dtype.to_string(),
        need_gib: need.total() as f64 / GIB,
        available_gib: available as f64 / GIB,
        hint: hint.to_string(),
    })
}

const GIB: f64 = (1u64 << 30) as f64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_estimate_by_hand() {
        // two tensors of 10 and 1000 elements: f32 4040 bytes, bf16 2020, transient 4000
        let f32 = MemoryEstimate::dense([10, 1000].into_iter(), WeightDtype::F32);
        assert_eq!((f32.weights, f32.transient), (4040, 4000));
        let bf16 = MemoryEstimate::dense([10, 1000].into_iter(), WeightDtype::Bf16);
        assert_eq!((bf16.weights, bf16.transient), (2020, 4000));
        assert_eq!(bf16.total(), 2020 + 4000 + ANALYSIS_MARGIN);
    }

    #[test]
    fn budget_and_force() {
        let need = MemoryEstimate {
            weights: 1 << 30,
            transient: 0,
        };
        let opts = |memory| LoadOptions {
            memory,
            ..LoadOptions::default()
        };
        let err = check("m", &need, &opts(MemoryCheck::Budget(1 << 30)), true);
        let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
        // 1 GiB of weights and the margin, in GiB as the message rounds it
        let gib = (need.weights + ANALYSIS_MARGIN) as f64 / (1u64 << 30) as f64;
        assert!(
            msg.contains("--dtype quantized") && msg.contains(&format!("{gib:.1} GiB")),
            "{msg}"
        );
        assert!(check("m", &need, &opts(MemoryCheck::Budget(2 << 30)), true).is_ok());
        assert!(check("m", &need, &opts(MemoryCheck::Force), true).is_ok());
    }

    /// A cgroup tree written by hand: the room is the least over the process's cgroup and its
    /// ancestors, reclaimable page cache is free, "max" / a huge v1 number is no limit, and a
    /// path missing under the mount (a container's view) falls back to the mount's root.
    #[test]
    fn cgroup_room_of_nested_cgroups_by_hand() -> Result<()> {
        let root = std::env::temp_dir().join(format!("entroscope-cg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let write = |rel: &str, text: &str| -> Result<()> {
            let p = root.join(rel);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
            }
            std::fs::write(&p, text).map_err(|e| Error::io(&p, e))
        };
        const G: u64 = 1 << 30;
        // v1: the job's cgroup allows 4 GiB (1 GiB used, 0.25 of it reclaimable); its parent 16
        write("memory/memory.limit_in_bytes", "9223372036854771712")?;
        write("memory/memory.usage_in_bytes", &(20 * G).to_string())?;
        write("memory/slurm/memory.limit_in_bytes", &(16 * G).to_string())?;
        write("memory/slurm/memory.usage_in_bytes", &(2 * G).to_string())?;
        write(
            "memory/slurm/job_1/memory.limit_in_bytes",
            &(4 * G).to_string(),
        )?;
        write("memory/slurm/job_1/memory.usage_in_bytes", &G.to_string())?;
        write(
            "memory/slurm/job_1/memory.stat",
            &format!("cache 9\ntotal_inactive_file {}\n", G / 4),
        )?;
        let own = "5:devices:/slurm/job_1\n4:cpuacct,memory:/slurm/job_1\n";
        assert_eq!(cgroup_room(&root, own), Some(4 * G - 3 * G / 4));
        // the parent is the tighter bound
        write("memory/slurm/memory.usage_in_bytes", &(15 * G).to_string())?;
        assert_eq!(cgroup_room(&root, own), Some(G));
        // a path that is not under the mount (a container's own cgroup is its root); v1's
        // huge "no limit" leaves room beyond any machine's memory
        assert!(cgroup_room(&root, "4:memory:/docker/abc\n").is_some_and(|r| r > 1 << 60));
        write("memory/memory.limit_in_bytes", &(8 * G).to_string())?;
        write("memory/memory.usage_in_bytes", &(2 * G).to_string())?;
        assert_eq!(cgroup_room(&root, "4:memory:/docker/abc\n"), Some(6 * G));
        // v2: "max" is no limit
        let v2 = root.join("v2");
        std::fs::create_dir_all(v2.join("user.slice/job")).map_err(|e| Error::io(&v2, e))?;
        std::fs::write(v2.join("cgroup.controllers"), "memory").map_err(|e| Error::io(&v2, e))?;
        std::fs::write(v2.join("user.slice/memory.max"), "max").map_err(|e| Error::io(&v2, e))?;
        std::fs::write(v2.join("user.slice/memory.current"), "5").map_err(|e| Error::io(&v2, e))?;
        std::fs::write(v2.join("user.slice/job/memory.max"), (3 * G).to_string())
            .map_err(|e| Error::io(&v2, e))?;
        std::fs::write(v2.join("user.slice/job/memory.current"), G.to_string())
            .map_err(|e| Error::io(&v2, e))?;
        assert_eq!(cgroup_room(&v2, "0::/user.slice/job\n"), Some(2 * G));
        std::fs::remove_dir_all(&root).ok();
        Ok(())
    }

    #[test]
    fn this_machine_reports_memory() {
        if cfg!(target_os = "linux") {
            assert!(available_memory().is_some_and(|b| b > 0));
        }
    }
}
