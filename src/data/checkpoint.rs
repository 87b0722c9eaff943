//! Per-item results kept on disk as a run makes them, so a run that is killed (a preempted
//! node, a closed laptop) resumes where it stopped instead of starting again.
//!
//! Each item's table is written to `item-<k>.parquet` (a value of any serde type, such as a
//! paper run's per-idiom records, to `item-<key>.bin`, in postcard's exact binary form) through
//! a temporary file and a rename, so a file under that name is always whole; a temporary left by a kill is deleted, and an item
//! file that does not read back is redone, never merged. `run.txt` holds what the run is (model,
//! metrics, options): a checkpoint of another run is refused rather than mixed in.

use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;
use serde::{de::DeserializeOwned, Serialize};

use crate::frame;
use crate::{Error, Result};

/// A directory of per-item tables for one run.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    dir: PathBuf,
}

const RUN_FILE: &str = "run.txt";

impl Checkpoint {
    /// Open (or start) the checkpoint of the run described by `run` in `dir`. Temporaries of a
    /// killed run are removed. Errors: `dir` holds another run's items (delete it, or write
    /// elsewhere), or cannot be created.
    pub fn open(dir: impl AsRef<Path>, run: &str) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let unwritable = |e: std::io::Error| Error::Unwritable {
            path: dir.clone(),
            detail: e.to_string(),
        };
        std::fs::create_dir_all(&dir).map_err(unwritable)?;
        let run_file = dir.join(RUN_FILE);
        if !run_file.exists() {
            // Items without a run file are left from a run whose table was written (the run file
            // is removed first): they belong to no run that can resume.
            // Only what a checkpoint writes goes: items, temporaries and parts (folders with a
            // run file); anything else in the folder is left alone.
            for entry in std::fs::read_dir(&dir).map_err(unwritable)?.flatten() {
                let p = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                let _ = if p.is_dir() && p.join(RUN_FILE).exists() {
                    std::fs::remove_dir_all(p)
                } else if p.is_file() && (name.starts_with("item-") || name.ends_with(".tmp")) {
                    std::fs::remove_file(p)
                } else {
                    Ok(())
                };
            }
        }
        match std::fs::read_to_string(&run_file) {
            Ok(existing) if existing != run => {
                return Err(Error::invalid(
                    "checkpoint",
                    dir.display(),
                    format!(
                        "a checkpoint of this run; it holds another ({}): delete it (or pass \
                         --fresh) to start again, or write the output elsewhere",
                        existing.lines().next().unwrap_or("")
                    ),
                ))
            }
            Ok(_) => {}
            Err(_) => {
                let tmp = dir.join("run.txt.tmp");
                std::fs::write(&tmp, run).map_err(unwritable)?;
                std::fs::rename(&tmp, &run_file).map_err(unwritable)?;
            }
        }
        for entry in std::fs::read_dir(&dir).map_err(unwritable)?.flatten() {
            if entry.path().extension().is_some_and(|e| e == "tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Self { dir })
    }

    fn item_path(&self, key: usize) -> PathBuf {
        self.dir.join(format!("item-{key}.parquet"))
    }

    /// Item `key`'s table when a previous run finished it; `None` when it did not, or when its
    /// file does not read back (then it is deleted, to be redone).
    pub fn load(&self, key: usize) -> Option<DataFrame> {
        let path = self.item_path(key);
        if !path.exists() {
            return None;
        }
        match frame::read_parquet(&path) {
            Ok(df) => Some(df),
            Err(_) => {
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Keep item `key`'s table: written whole under a temporary name, then renamed.
    pub fn save(&self, key: usize, df: &DataFrame) -> Result<()> {
        let path = self.item_path(key);
        let tmp = path.with_extension("parquet.tmp");
        frame::write_parquet(df, &tmp)?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::Unwritable {
            path: path.clone(),
            detail: e.to_string(),
        })
    }

    fn value_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("item-{}.bin", file_name(key)))
    }

    /// A checkpoint inside this one for a part of the run with its own item numbering (one
    /// benchmark's items, say), of the same run; removed with it.
    pub fn part(&self, name: &str) -> Result<Checkpoint> {
        let run = std::fs::read_to_string(self.dir.join(RUN_FILE))
            .map_err(|e| Error::io(self.dir.join(RUN_FILE), e))?;
        Checkpoint::open(
            self.dir.join(file_name(name)),
            &format!("{run}\npart {name}"),
        )
    }

    /// Item `key`'s value, read back when a previous run kept it whole, else `compute`d and kept
    /// (written under a temporary name, then renamed). A kept file that does not decode is
    /// computed again. Floats round-trip bit for bit, so a resumed run equals an uninterrupted one.
    pub fn keep<T: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        compute: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let path = self.value_path(key);
        if let Ok(bytes) = std::fs::read(&path) {
            // the whole file must be the value: bytes left over mean another layout
            match postcard::take_from_bytes::<T>(&bytes) {
                Ok((v, [])) => return Ok(v),
                _ => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let v = compute()?;
        let bytes = postcard::to_stdvec(&v).map_err(|e| Error::Unwritable {
            path: path.clone(),
            detail: format!("could not encode the item: {e}"),
        })?;
        let tmp = path.with_extension("bin.tmp");
        std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::Unwritable {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        Ok(v)
    }

    /// How many items are kept, those of its parts included.
    pub fn len(&self) -> usize {
        count_items(&self.dir)
    }

    /// No item kept yet?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Delete the checkpoint once the run's output is written: the run file first, so a kill
    /// half-way leaves items that [`Checkpoint::open`] knows to discard.
    pub fn remove(self) -> Result<()> {
        Self::delete(&self.dir)
    }

    /// [`Checkpoint::remove`] by directory; nothing to do when it does not exist.
    pub fn delete(dir: &Path) -> Result<()> {
        if !dir.exists() {
            return Ok(());
        }
        let unwritable = |e: std::io::Error| Error::Unwritable {
            path: dir.to_path_buf(),
            detail: e.to_string(),
        };
        let run_file = dir.join(RUN_FILE);
        if run_file.exists() {
            std::fs::remove_file(run_file).map_err(unwritable)?;
        }
        std::fs::remove_dir_all(dir).map_err(unwritable)
    }
}

/// Items in `dir` and in its parts (folders with a run file).
fn count_items(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() && p.join(RUN_FILE).exists() {
                count_items(&p)
            } else {
                usize::from(
                    name.starts_with("item-")
                        && p.extension().is_some_and(|x| x == "parquet" || x == "bin"),
                )
            }
        })
        .sum()
}

/// `key` as a file name: ASCII letters, digits, `-` and `.` kept, anything else `_`; a long
/// key is cut and ends with a digest of the whole, so names stay within file-system limits.
fn file_name(key: &str) -> String {
    let name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.len() <= 160 {
        return name;
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    format!("{}-{:016x}", &name[..120], h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::Column;

    #[test]
    fn save_load_corrupt_and_foreign_runs() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("entroscope-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let c = Checkpoint::open(&dir, "run A")?;
        assert!(c.load(0).is_none() && c.is_empty());
        let df = DataFrame::new(2, vec![Column::new("x".into(), [1.5f32, 2.5])])?;
        c.save(0, &df)?;
        assert_eq!(c.load(0), Some(df));
        // a half-written item (a kill inside the writer) is redone, a stray temporary removed
        let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes);
        write("item-1.parquet", b"PAR1 not a whole file").map_err(|e| Error::io(&dir, e))?;
        write("item-2.parquet.tmp", b"partial").map_err(|e| Error::io(&dir, e))?;
        let c = Checkpoint::open(&dir, "run A")?;
        assert!(c.load(1).is_none() && !dir.join("item-1.parquet").exists());
        assert!(!dir.join("item-2.parquet.tmp").exists());
        assert_eq!(c.len(), 1);
        assert!(Checkpoint::open(&dir, "run B").is_err());
        // items whose run file is gone (a kill inside `remove`) belong to no run: discarded
        std::fs::remove_file(dir.join(RUN_FILE)).map_err(|e| Error::io(&dir, e))?;
        let c = Checkpoint::open(&dir, "run B")?;
        assert!(c.is_empty());
        c.remove()?;
        assert!(!dir.exists());
        Ok(())
    }

    #[test]
    fn kept_values_round_trip_exactly_and_corrupt_ones_are_redone() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("entroscope-keep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let c = Checkpoint::open(&dir, "run A")?;
        let v = (vec![0.1f32, f32::NAN, -0.0], "model / set 3".to_string());
        let first = c.keep("model / set 3", || Ok(v.clone()))?;
        let again: (Vec<f32>, String) = c.keep("model / set 3", || Err(Error::EmptyPrompt))?;
        assert_eq!(first.0.len(), 3);
        for (a, b) in again.0.iter().zip(&v.0) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert_eq!(again.1, v.1);
        assert_eq!(c.len(), 1);
        // a file that does not decode as the value is computed again
        std::fs::write(dir.join("item-model___set_3.bin"), [0xff])
            .map_err(|e| Error::io(&dir, e))?;
        let redone: (Vec<f32>, String) = c.keep("model / set 3", || Ok((vec![1.0], "x".into())))?;
        assert_eq!(redone.0, [1.0]);
        // a part keeps its own items and goes with its parent
        let part = c.part("dola truthfulqa")?;
        let df = DataFrame::new(1, vec![polars::prelude::Column::new("x".into(), [1.0f64])])?;
        part.save(0, &df)?;
        assert_eq!(c.part("dola truthfulqa")?.load(0), Some(df));
        assert_eq!(c.len(), 2, "the parent's item and its part's");
        c.remove()?;
        assert!(!dir.exists());
        Ok(())
    }
}
