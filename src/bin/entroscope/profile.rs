//! `entroscope profile` (per-layer metrics of every prompt of a file, optionally one shard of
//! the run) and `entroscope merge` (join the shards' parts into one table).

use std::path::{Path, PathBuf};

use entroscope::data::{load_prompts, merge_parts, profile_prompts_kept, Checkpoint, Shard};
use entroscope::frame;
use entroscope::prelude::*;

/// `entroscope profile`.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    model: Option<String>,
    #[command(flatten)]
    load: crate::LoadArgs,
    /// Prompts: .txt (one per line; id = 0-based line number, blank lines skipped), .jsonl
    /// ({"text": …, "id": …, "label": …} per line), or .csv / .parquet (a `text` column,
    /// optional `id` and `label` columns).
    #[arg(long)]
    text_file: PathBuf,
    /// Each prompt as one user turn of the model's chat template (an error for a model without one).
    #[arg(long)]
    chat: bool,
    /// shannon | renyi:<α> | cross-entropy | kl-final | target-rank | target-prob (repeatable).
    #[arg(long, default_value = "shannon")]
    metric: Vec<String>,
    /// normed (final norm at every layer) or raw (DoLa/END).
    #[arg(long, default_value = "normed")]
    lens: String,
    /// nats or bits.
    #[arg(long, default_value = "nats")]
    units: String,
    /// Precision of the unembedding product: f32, or bf16 (AMX / AVX512-BF16 in a build with
    /// `--features mkl`; elsewhere f32 runs, with a note). Reductions stay f32.
    #[arg(long, default_value = "f32")]
    lens_precision: entroscope::lens::Precision,
    /// Run only shard i of n (1-based, e.g. 2/3): the prompts with index % n == i - 1. --out is
    /// then a directory and the shard writes part-i-of-n.parquet into it.
    #[arg(long)]
    shard: Option<Shard>,
    /// Output table (.csv or .parquet); with --shard, the directory of the parts. Each prompt's
    /// rows are kept in `<out>.items/` as they are made, so a killed run resumes when run again
    /// with the same arguments; the folder is removed once the table is written.
    #[arg(long)]
    out: PathBuf,
    /// Discard what a killed run of these arguments kept, and start again.
    #[arg(long)]
    fresh: bool,
}

/// `entroscope merge`.
#[derive(clap::Args)]
pub struct MergeArgs {
    /// The directory holding part-i-of-n.parquet (the --out of the sharded runs).
    #[arg(long)]
    dir: PathBuf,
    /// The merged table: .csv or .parquet.
    #[arg(long)]
    out: PathBuf,
}

/// Profile the prompts (or one shard of them) and write the table.
pub fn run(args: Args) -> Result<()> {
    let metrics: Vec<Metric> = args
        .metric
        .iter()
        .map(|m| {
            m.parse::<Metric>()
                .map_err(|e| Error::invalid("metric", m, e.to_string()))
        })
        .collect::<Result<_>>()?;
    let units = &args.units;
    let lens = LogitLens {
        kind: args.lens.parse()?,
        units: units
            .parse()
            .map_err(|e: entroscope::entropy::ParseMetricError| {
                Error::invalid("units", units, e.to_string())
            })?,
        precision: args.lens_precision,
        ..LogitLens::default()
    };
    if lens.precision != lens.precision.effective() {
        eprintln!(
            "note: no bf16 matrix product here (needs a build with --features mkl on a CPU with \
             AMX-BF16 or AVX512-BF16; this CPU: {}): the lens runs in f32",
            entroscope::model::bf16_hardware().unwrap_or("neither")
        );
    }
    let out = match args.shard {
        Some(shard) => {
            if matches!(
                args.out.extension().and_then(|e| e.to_str()),
                Some("csv" | "parquet")
            ) {
                return Err(Error::invalid(
                    "out",
                    args.out.display(),
                    "a directory with --shard (it receives part-i-of-n.parquet)",
                ));
            }
            std::fs::create_dir_all(&args.out).map_err(|e| Error::Unwritable {
                path: args.out.clone(),
                detail: e.to_string(),
            })?;
            args.out.join(shard.file_name())
        }
        None => args.out.clone(),
    };
    check_out(&out)?;
    let prompts = load_prompts(&args.text_file)?;
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let selected = shard.select(&prompts);
    let lm = crate::load_model(args.model.clone(), &args.load)?;
    // What makes two runs' items interchangeable: everything that changes a row.
    let run = format!(
        "{} {} ({}) on {} dtype {} lens {} units {} precision {:?} chat {} metrics {:?} \
         prompts {} shard {} entroscope {}",
        lm.name(),
        lm.config().family,
        model_identity(args.model.as_deref()),
        entroscope::model::device_name(lm.device()),
        lm.dtype(),
        lens.kind,
        lens.units,
        lens.precision.effective(),
        args.chat,
        args.metric,
        prompts_digest(&prompts),
        shard.file_name(),
        env!("CARGO_PKG_VERSION"),
    );
    let items = PathBuf::from(format!("{}.items", out.display()));
    let what = format!("of {} prompts", selected.len());
    let checkpoint = open_checkpoint(&items, &run, args.fresh, &what)?;
    let df = profile_prompts_kept(
        &lm,
        &lens,
        &metrics,
        &selected,
        args.chat,
        Some(&checkpoint),
    )?;
    frame::write_table(&df, &out)?;
    checkpoint.remove()?;
    eprintln!(
        "wrote {} rows ({} of {} prompts) to {}",
        df.height(),
        selected.len(),
        prompts.len(),
        out.display()
    );
    Ok(())
}

/// The model file or directory as found on disk (canonical path, size, modification time), so
/// a different or rewritten model under the same name is not taken for the same run.
pub(crate) fn model_identity(model: Option<&str>) -> String {
    let path = match model {
        Some(m) => PathBuf::from(m),
        None => PathBuf::from(entroscope::model::default_model_path()),
    };
    let Ok(path) = path.canonicalize() else {
        return "not a local path".into();
    };
    let file = if path.is_dir() {
        path.join("config.json")
    } else {
        path.clone()
    };
    let meta = std::fs::metadata(&file).ok();
    let mtime = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    format!(
        "{} {} bytes, modified {mtime}",
        path.display(),
        meta.map_or(0, |m| m.len())
    )
}

/// A digest of the prompts (ids, texts, labels): an edited prompt file is another run.
fn prompts_digest(prompts: &[entroscope::data::Prompt]) -> String {
    let fields: Vec<_> = prompts.iter().map(|p| (&p.id, &p.text, &p.label)).collect();
    format!("{} prompts, digest {}", prompts.len(), digest(&fields))
}

/// A hex digest of anything hashable, for a run's identity.
pub(crate) fn digest(value: &impl std::hash::Hash) -> String {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new();
    value.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The checkpoint of a run's items in `items` (emptied first with `fresh`), saying on stderr
/// how many a killed run kept (`what`: e.g. "of 16 prompts").
pub(crate) fn open_checkpoint(
    items: &std::path::Path,
    run: &str,
    fresh: bool,
    what: &str,
) -> Result<Checkpoint> {
    if fresh && items.exists() {
        std::fs::remove_dir_all(items).map_err(|e| Error::io(items, e))?;
    }
    let checkpoint = Checkpoint::open(items, run)?;
    if !checkpoint.is_empty() {
        eprintln!(
            "resuming: {} {what} kept in {} (--fresh starts again)",
            checkpoint.len(),
            items.display()
        );
    }
    Ok(checkpoint)
}

/// Join the parts of a sharded run into one table.
pub fn merge(args: MergeArgs) -> Result<()> {
    check_out(&args.out)?;
    let df = merge_parts(&args.dir)?;
    frame::write_table(&df, &args.out)?;
    eprintln!("wrote {} rows to {}", df.height(), args.out.display());
    Ok(())
}

/// Fail before a long run, not after it: the output must be a .csv/.parquet file we can create.
fn check_out(out: &Path) -> Result<()> {
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "csv" | "parquet") {
        return Err(Error::invalid(
            "out",
            out.display(),
            "a path ending in .csv or .parquet (with --shard: a directory)",
        ));
    }
    std::fs::File::create(out).map_err(|e| Error::Unwritable {
        path: out.to_path_buf(),
        detail: e.to_string(),
    })?;
    Ok(())
}
