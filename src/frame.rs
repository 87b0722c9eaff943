//! Tables: every polars call of the crate lives here.
//!
//! Analyses return plain Rust structs ([`LayerProfile`], kNN scores, …); this module turns them
//! into polars [`DataFrame`]s so that notebooks can filter, group and join them, and writes or
//! reads them as CSV / Parquet. Keeping polars behind one module means a polars upgrade (its API
//! changes between minor versions) touches one file.
//!
//! # The tidy layer-profile frame
//! [`ToFrame`] turns one or many [`LayerProfile`]s into a *long* frame, one row per
//! (prompt, layer, position), with the columns (in this order):
//!
//! | column      | dtype  | meaning                                                         |
//! |-------------|--------|-----------------------------------------------------------------|
//! | `model`     | str    | model name                                                      |
//! | `prompt_id` | i64    | index of the prompt in its batch / file                         |
//! | `position`  | i64    | token position in the prompt                                    |
//! | `token`     | str    | token string at that position, as the tokenizer gives it        |
//! | `layer`     | i64    | `0` = embeddings, `l` = after block `l`, `L` = after the last block (before the final norm) |
//! | `depth`     | f64    | `layer / L` ∈ [0, 1]; compares models of different depth        |
//! | `metric`    | str    | e.g. `shannon`, `renyi:2` ([`Metric`](crate::entropy::Metric)'s `Display`) |
//! | `units`     | str    | `nats` or `bits`                                                |
//! | `value`     | f64    | the statistic                                                   |
//!
//! `value` is **f64** although profiles hold f32: every f32 is exactly representable in f64, so
//! nothing is lost, and all numeric result columns of the crate (kNN, scores, …) are f64, so frames
//! from different analyses stack and join without casts, and polars aggregations run in f64.
//! Integer columns are i64 (not u64) because that is what CSV schema inference reads back.
//!
//! Rows are ordered prompt by prompt (input order), then layer-major (all positions of layer 0,
//! then layer 1, …), the same order as [`LayerProfile::values`].
//!
//! ```no_run
//! use entroscope::frame::{self, ToFrame};
//! # fn demo(profiles: Vec<entroscope::LayerProfile>) -> entroscope::Result<()> {
//! let df = profiles.to_frame()?;          // [(L+1) × positions × prompts, 9]
//! frame::write_table(&df, "figures/entropy.parquet")?;
//! frame::set_display(20, 12);             // show 20 rows / 12 columns when printed
//! println!("{df}");
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::{
    BooleanChunked, Column, CsvParseOptions, CsvReadOptions, CsvWriter, DataType, ParquetReader,
    ParquetWriter, PlSmallStr, Schema, SerReader, SerWriter,
};

/// The polars version entroscope is built with, so that notebooks need no `:dep polars` of a
/// matching version: `use entroscope::frame::polars::prelude::*;`.
pub use polars;
/// polars' table type, returned by every analysis.
pub use polars::prelude::DataFrame;

use crate::error::{Error, Result};
use crate::plot::Curve;
use crate::profile::LayerProfile;

/// Column `model` (str): model name.
pub const MODEL: &str = "model";
/// Column `prompt_id` (i64): index of the prompt in its batch / file.
pub const PROMPT_ID: &str = "prompt_id";
/// Column `position` (i64): token position in the prompt.
pub const POSITION: &str = "position";
/// Column `token` (str): token string at `position`.
pub const TOKEN: &str = "token";
/// Column `layer` (i64): 0 = embeddings … L = after the last block, before the final norm.
pub const LAYER: &str = "layer";
/// Column `depth` (f64): `layer / L` ∈ [0, 1].
pub const DEPTH: &str = "depth";
/// Column `metric` (str): the statistic's name, e.g. `shannon`, `renyi:2`.
pub const METRIC: &str = "metric";
/// Column `units` (str): `nats` or `bits`.
pub const UNITS: &str = "units";
/// Column `value` (f64): the statistic.
pub const VALUE: &str = "value";

/// The columns of a tidy profile frame, in order.
pub const PROFILE_COLUMNS: [&str; 9] = [
    MODEL, PROMPT_ID, POSITION, TOKEN, LAYER, DEPTH, METRIC, UNITS, VALUE,
];

/// Columns that hold text in our frames; CSV reading forces them to str so that a token such as
/// `"42"` does not turn the whole `token` column into integers.
const TEXT_COLUMNS: [&str; 4] = [MODEL, TOKEN, METRIC, UNITS];

/// Anything that becomes a tidy polars [`DataFrame`].
pub trait ToFrame {
    /// Build the frame. For [`LayerProfile`]s: the long frame described in the [module
    /// docs](self), `(n_layers + 1) × positions` rows per profile.
    ///
    /// ```no_run
    /// # use entroscope::frame::ToFrame;
    /// # fn demo(p: &entroscope::LayerProfile) -> entroscope::Result<()> {
    /// let df = p.to_frame()?;
    /// assert_eq!(df.height(), (p.n_layers + 1) * p.positions.len());
    /// # Ok(()) }
    /// ```
    fn to_frame(&self) -> Result<DataFrame>;
}

/// Growing column buffers of the tidy profile frame.
#[derive(Default)]
struct ProfileColumns {
    model: Vec<String>,
    prompt_id: Vec<i64>,
    position: Vec<i64>,
    token: Vec<String>,
    layer: Vec<i64>,
    depth: Vec<f64>,
    metric: Vec<String>,
    units: Vec<String>,
    value: Vec<f64>,
}

impl ProfileColumns {
    fn push(&mut self, p: &LayerProfile) -> Result<()> {
        let n_pos = p.positions.len();
        if p.n_layers == 0 {
            return Err(Error::invalid(
                "LayerProfile.n_layers",
                0,
                "at least 1 block (depth = layer / n_layers)",
            ));
        }
        if p.tokens.len() != n_pos {
            return Err(Error::invalid(
                "LayerProfile.tokens",
                format!("{} tokens", p.tokens.len()),
                format!("one token per position ({n_pos})"),
            ));
        }
        let rows = p.n_layers + 1;
        if p.values.len() != rows * n_pos {
            return Err(Error::invalid(
                "LayerProfile.values",
                format!("{} values", p.values.len()),
                format!(
                    "(n_layers + 1) × positions = {rows} × {n_pos} = {}",
                    rows * n_pos
                ),
            ));
        }
        let n = rows * n_pos;
        let prompt_id = to_i64("LayerProfile.prompt_id", p.prompt_id)?;
        let positions = p
            .positions
            .iter()
            .map(|&x| to_i64("LayerProfile.positions", x))
            .collect::<Result<Vec<_>>>()?;
        let (metric, units) = (p.metric.to_string(), p.units.to_string());
        self.model.extend(std::iter::repeat_n(p.model.clone(), n));
        self.prompt_id.extend(std::iter::repeat_n(prompt_id, n));
        self.metric.extend(std::iter::repeat_n(metric, n));
        self.units.extend(std::iter::repeat_n(units, n));
        for layer in 0..rows {
            let depth = layer as f64 / p.n_layers as f64;
            self.layer.extend(std::iter::repeat_n(layer as i64, n_pos));
            self.depth.extend(std::iter::repeat_n(depth, n_pos));
            self.position.extend_from_slice(&positions);
            self.token.extend(p.tokens.iter().cloned());
        }
        self.value.extend(p.values.iter().map(|&v| f64::from(v)));
        Ok(())
    }

    fn into_frame(self) -> Result<DataFrame> {
        frame_from_columns(vec![
            (MODEL, ColumnData::Str(self.model)),
            (PROMPT_ID, ColumnData::I64(self.prompt_id)),
            (POSITION, ColumnData::I64(self.position)),
            (TOKEN, ColumnData::Str(self.token)),
            (LAYER, ColumnData::I64(self.layer)),
            (DEPTH, ColumnData::F64(self.depth)),
            (METRIC, ColumnData::Str(self.metric)),
            (UNITS, ColumnData::Str(self.units)),
            (VALUE, ColumnData::F64(self.value)),
        ])
    }
}

fn to_i64(name: &'static str, x: usize) -> Result<i64> {
    i64::try_from(x).map_err(|_| Error::invalid(name, x, "a value below 2^63"))
}

impl ToFrame for LayerProfile {
    fn to_frame(&self) -> Result<DataFrame> {
        std::slice::from_ref(self).to_frame()
    }
}

/// Profiles stacked in input order. An empty slice gives the 9 columns with 0 rows.
impl ToFrame for [LayerProfile] {
    fn to_frame(&self) -> Result<DataFrame> {
        let mut cols = ProfileColumns::default();
        for p in self {
            cols.push(p)?;
        }
        cols.into_frame()
    }
}

impl ToFrame for Vec<LayerProfile> {
    fn to_frame(&self) -> Result<DataFrame> {
        self.as_slice().to_frame()
    }
}

impl<T: ToFrame + ?Sized> ToFrame for &T {
    fn to_frame(&self) -> Result<DataFrame> {
        (**self).to_frame()
    }
}

// ---------------------------------------------------------------------------------------------
// Building frames from plain columns
// ---------------------------------------------------------------------------------------------

/// One column's data for [`frame_from_columns`]. `From` impls let callers write
/// `("auc", aucs.into())` for `Vec<f64>`, `Vec<f32>`, `Vec<i64>`, `Vec<usize>`, `Vec<String>`,
/// `Vec<&str>` and `Vec<bool>`.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// A float column.
    F64(Vec<f64>),
    /// An integer column.
    I64(Vec<i64>),
    /// A text column.
    Str(Vec<String>),
    /// A boolean column.
    Bool(Vec<bool>),
}

impl ColumnData {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::F64(v) => v.len(),
            ColumnData::I64(v) => v.len(),
            ColumnData::Str(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn into_column(self, name: &str) -> Column {
        let name = PlSmallStr::from(name);
        match self {
            ColumnData::F64(v) => Column::new(name, v),
            ColumnData::I64(v) => Column::new(name, v),
            ColumnData::Str(v) => Column::new(name, v),
            ColumnData::Bool(v) => Column::new(name, v),
        }
    }
}

impl From<Vec<f64>> for ColumnData {
    fn from(v: Vec<f64>) -> Self {
        ColumnData::F64(v)
    }
}
impl From<Vec<f32>> for ColumnData {
    fn from(v: Vec<f32>) -> Self {
        ColumnData::F64(v.into_iter().map(f64::from).collect())
    }
}
impl From<Vec<i64>> for ColumnData {
    fn from(v: Vec<i64>) -> Self {
        ColumnData::I64(v)
    }
}
/// Saturates at `i64::MAX` (unreachable for indices and counts).
impl From<Vec<usize>> for ColumnData {
    fn from(v: Vec<usize>) -> Self {
        ColumnData::I64(
            v.into_iter()
                .map(|x| i64::try_from(x).unwrap_or(i64::MAX))
                .collect(),
        )
    }
}
impl From<Vec<String>> for ColumnData {
    fn from(v: Vec<String>) -> Self {
        ColumnData::Str(v)
    }
}
impl From<Vec<&str>> for ColumnData {
    fn from(v: Vec<&str>) -> Self {
        ColumnData::Str(v.into_iter().map(str::to_owned).collect())
    }
}
impl From<Vec<bool>> for ColumnData {
    fn from(v: Vec<bool>) -> Self {
        ColumnData::Bool(v)
    }
}

/// Build a frame from named columns, in the given order — the way other modules (kNN, scoring,
/// decoding) turn their results into tables without touching polars.
///
/// Errors with [`Error::InvalidParameter`] when the columns differ in length or a name repeats.
/// An empty list gives an empty frame.
///
/// ```
/// use entroscope::frame::{frame_from_columns, ColumnData};
/// let df = frame_from_columns(vec![
///     ("layer", vec![0i64, 1, 2].into()),
///     ("auc", vec![0.5, 0.71, 0.83].into()),
///     ("split", ColumnData::Str(vec!["test".into(); 3])),
/// ])?;
/// assert_eq!(df.shape(), (3, 3));
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn frame_from_columns(columns: Vec<(&str, ColumnData)>) -> Result<DataFrame> {
    let height = columns.first().map_or(0, |(_, c)| c.len());
    let mut seen = std::collections::HashSet::new();
    for (name, col) in &columns {
        if !seen.insert(*name) {
            return Err(Error::invalid(
                "columns",
                format!("`{name}` twice"),
                "unique column names",
            ));
        }
        if col.len() != height {
            return Err(Error::invalid(
                "columns",
                format!("`{name}` has {} rows", col.len()),
                format!(
                    "all columns of the same length ({height}, the length of `{}`)",
                    columns[0].0
                ),
            ));
        }
    }
    let cols = columns
        .into_iter()
        .map(|(name, c)| c.into_column(name))
        .collect();
    Ok(DataFrame::new(height, cols)?)
}

// ---------------------------------------------------------------------------------------------
// Building frames row by row
// ---------------------------------------------------------------------------------------------

/// Build a frame from any rows, one closure call per row: the closure sets that row's cells
/// through a [`Row`] (`row.str("model", &r.model).f64("auc", r.auc)`), and the frame's columns
/// come in the order of the first row's calls, typed by the setter used.
///
/// This is the one way results become tables: each struct says, in one place, which fields are
/// columns, instead of one `Vec` per column built by hand.
///
/// Every row must set the same columns, each exactly once (any order after the first row); the
/// `opt_*` setters give nulls. Integer setters all make i64 columns (what CSV reads back), float
/// setters f64. Errors with [`Error::InvalidParameter`] naming the row and column when a row misses
/// or repeats a column, or a column is set with two types. No rows gives an empty frame (no
/// columns).
///
/// ```
/// use entroscope::frame;
/// struct Fit { model: String, k: usize, auc: f64 }
/// let fits = vec![Fit { model: "a".into(), k: 5, auc: 0.9 }, Fit { model: "b".into(), k: 3, auc: 0.7 }];
/// let df = frame::from_rows(&fits, |r, row| {
///     row.str("model", &r.model).usize("k", r.k).f64("auc", r.auc);
/// })?;
/// assert_eq!(df.shape(), (2, 3));
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn from_rows<I, F>(rows: I, mut fill: F) -> Result<DataFrame>
where
    I: IntoIterator,
    F: FnMut(I::Item, &mut Row),
{
    let mut row = Row::default();
    for item in rows {
        fill(item, &mut row);
        row.finish_row();
    }
    row.into_frame()
}

/// The cells of one row, given to the closure of [`from_rows`]. Setters return `&mut Self` so that
/// they chain.
#[derive(Default)]
pub struct Row {
    names: Vec<String>,
    index: HashMap<String, usize>,
    cols: Vec<RowColumn>,
    /// Which columns the current row has set.
    set: Vec<bool>,
    /// Rows finished so far.
    height: usize,
    /// Position of the next call within the current row (the fast path: same order every row).
    cursor: usize,
    error: Option<Error>,
}

/// One growing column of [`Row`]; `None` cells are nulls.
enum RowColumn {
    F64(Vec<Option<f64>>),
    I64(Vec<Option<i64>>),
    Str(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
}

impl RowColumn {
    fn dtype(&self) -> &'static str {
        match self {
            RowColumn::F64(_) => "f64",
            RowColumn::I64(_) => "i64",
            RowColumn::Str(_) => "str",
            RowColumn::Bool(_) => "bool",
        }
    }

    fn into_column(self, name: &str) -> Column {
        // all-valid columns are built without a validity mask, like `frame_from_columns`
        macro_rules! build {
            ($v:expr) => {
                if $v.iter().all(Option::is_some) {
                    Column::new(name.into(), $v.into_iter().flatten().collect::<Vec<_>>())
                } else {
                    Column::new(name.into(), $v)
                }
            };
        }
        match self {
            RowColumn::F64(v) => build!(v),
            RowColumn::I64(v) => build!(v),
            RowColumn::Str(v) => build!(v),
            RowColumn::Bool(v) => build!(v),
        }
    }
}

/// A cell value of one of [`RowColumn`]'s types.
enum Cell {
    F64(Option<f64>),
    I64(Option<i64>),
    Str(Option<String>),
    Bool(Option<bool>),
}

impl Cell {
    fn empty_column(&self) -> RowColumn {
        match self {
            Cell::F64(_) => RowColumn::F64(Vec::new()),
            Cell::I64(_) => RowColumn::I64(Vec::new()),
            Cell::Str(_) => RowColumn::Str(Vec::new()),
            Cell::Bool(_) => RowColumn::Bool(Vec::new()),
        }
    }

    /// Append to `col`, or give the cell back when the types differ.
    fn push_to(self, col: &mut RowColumn) -> std::result::Result<(), Cell> {
        match (col, self) {
            (RowColumn::F64(v), Cell::F64(x)) => v.push(x),
            (RowColumn::I64(v), Cell::I64(x)) => v.push(x),
            (RowColumn::Str(v), Cell::Str(x)) => v.push(x),
            (RowColumn::Bool(v), Cell::Bool(x)) => v.push(x),
            (_, c) => return Err(c),
        }
        Ok(())
    }

    fn dtype(&self) -> &'static str {
        self.empty_column().dtype()
    }
}

impl Row {
    /// A text cell.
    pub fn str(&mut self, name: &str, value: impl AsRef<str>) -> &mut Self {
        self.cell(name, Cell::Str(Some(value.as_ref().to_owned())))
    }

    /// A text cell that may be null.
    pub fn opt_str(&mut self, name: &str, value: Option<impl AsRef<str>>) -> &mut Self {
        self.cell(name, Cell::Str(value.map(|v| v.as_ref().to_owned())))
    }

    /// A float cell (f64 column; f32 converts exactly). NaN stays NaN, not null.
    pub fn f64(&mut self, name: &str, value: impl Into<f64>) -> &mut Self {
        self.cell(name, Cell::F64(Some(value.into())))
    }

    /// A float cell that may be null.
    pub fn opt_f64(&mut self, name: &str, value: Option<impl Into<f64>>) -> &mut Self {
        self.cell(name, Cell::F64(value.map(Into::into)))
    }

    /// An integer cell (i64 column; i32, u32 and smaller convert exactly).
    pub fn i64(&mut self, name: &str, value: impl Into<i64>) -> &mut Self {
        self.cell(name, Cell::I64(Some(value.into())))
    }

    /// An integer cell that may be null.
    pub fn opt_i64(&mut self, name: &str, value: Option<impl Into<i64>>) -> &mut Self {
        self.cell(name, Cell::I64(value.map(Into::into)))
    }

    /// A count or index (i64 column). A value above `i64::MAX` is an error.
    pub fn usize(&mut self, name: &str, value: usize) -> &mut Self {
        self.u64(name, value as u64)
    }

    /// A count or index that may be null (i64 column).
    pub fn opt_usize(&mut self, name: &str, value: Option<usize>) -> &mut Self {
        match value {
            Some(v) => self.usize(name, v),
            None => self.cell(name, Cell::I64(None)),
        }
    }

    /// An unsigned integer (i64 column). A value above `i64::MAX` is an error.
    pub fn u64(&mut self, name: &str, value: u64) -> &mut Self {
        match i64::try_from(value) {
            Ok(v) => self.cell(name, Cell::I64(Some(v))),
            Err(_) => {
                self.fail(|row| {
                    Error::invalid(
                        "from_rows",
                        format!("row {row}, column `{name}` = {value}"),
                        "an integer below 2^63",
                    )
                });
                self
            }
        }
    }

    /// A boolean cell.
    pub fn bool(&mut self, name: &str, value: bool) -> &mut Self {
        self.cell(name, Cell::Bool(Some(value)))
    }

    /// A boolean cell that may be null.
    pub fn opt_bool(&mut self, name: &str, value: Option<bool>) -> &mut Self {
        self.cell(name, Cell::Bool(value))
    }

    /// Record the first error (with the current row number); later cells are ignored.
    fn fail(&mut self, err: impl FnOnce(usize) -> Error) {
        if self.error.is_none() {
            self.error = Some(err(self.height));
        }
    }

    fn cell(&mut self, name: &str, cell: Cell) -> &mut Self {
        if self.error.is_some() {
            return self;
        }
        // fast path: the same column order as the first row
        let idx = if self.names.get(self.cursor).is_some_and(|n| n == name) {
            Some(self.cursor)
        } else {
            self.index.get(name).copied()
        };
        let idx = match idx {
            Some(i) => i,
            None if self.height == 0 => {
                self.names.push(name.to_owned());
                self.index.insert(name.to_owned(), self.cols.len());
                self.cols.push(cell.empty_column());
                self.set.push(false);
                self.cols.len() - 1
            }
            None => {
                self.fail(|row| {
                    Error::invalid(
                        "from_rows",
                        format!("row {row} sets a new column `{name}`"),
                        "every row setting the columns of the first row",
                    )
                });
                return self;
            }
        };
        self.cursor = idx + 1;
        if std::mem::replace(&mut self.set[idx], true) {
            self.fail(|row| {
                Error::invalid(
                    "from_rows",
                    format!("row {row} sets column `{name}` twice"),
                    "each column once per row",
                )
            });
            return self;
        }
        if let Err(c) = cell.push_to(&mut self.cols[idx]) {
            let (want, got) = (self.cols[idx].dtype(), c.dtype());
            self.fail(|row| {
                Error::invalid(
                    "from_rows",
                    format!("row {row}, column `{name}` set as {got}"),
                    format!("one type per column ({want}, as first set)"),
                )
            });
        }
        self
    }

    fn finish_row(&mut self) {
        if self.error.is_none() {
            if let Some(i) = self.set.iter().position(|s| !s) {
                let name = self.names[i].clone();
                self.fail(|row| {
                    Error::invalid(
                        "from_rows",
                        format!("row {row} does not set column `{name}`"),
                        "every row setting the columns of the first row",
                    )
                });
            }
        }
        self.set.iter_mut().for_each(|s| *s = false);
        self.cursor = 0;
        self.height += 1;
    }

    fn into_frame(self) -> Result<DataFrame> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let cols = self
            .names
            .iter()
            .zip(self.cols)
            .map(|(n, c)| c.into_column(n))
            .collect();
        Ok(DataFrame::new(self.height, cols)?)
    }
}

/// Stack frames with the same columns (names, order and dtypes) vertically.
/// An empty slice gives an empty frame.
pub fn concat(frames: &[DataFrame]) -> Result<DataFrame> {
    let mut it = frames.iter();
    let Some(first) = it.next() else {
        return Ok(DataFrame::empty());
    };
    let mut out = first.clone();
    for df in it {
        out.vstack_mut(df)?;
    }
    out.rechunk_mut();
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Reading columns back (for plots and tests)
// ---------------------------------------------------------------------------------------------

/// Column `name` as f64 (integer and f32 columns are cast; nulls become NaN).
pub fn column_f64(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let col = df.column(name)?.cast(&DataType::Float64)?;
    Ok(col.f64()?.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// Column `name` as i64 (nulls are an error: [`Error::NotEnoughData`]).
pub fn column_i64(df: &DataFrame, name: &str) -> Result<Vec<i64>> {
    let col = df.column(name)?.cast(&DataType::Int64)?;
    col.i64()?
        .iter()
        .map(|v| v.ok_or_else(|| Error::NotEnoughData(format!("null in column `{name}`"))))
        .collect()
}

/// Column `name` as strings; any dtype is formatted as polars prints it (nulls become "null").
pub fn column_str(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let col = df.column(name)?;
    if let Ok(ca) = col.str() {
        return Ok(ca.iter().map(|v| v.unwrap_or("null").to_owned()).collect());
    }
    let s = col.as_materialized_series();
    (0..s.len())
        .map(|i| Ok(s.str_value(i)?.into_owned()))
        .collect()
}

/// Group a long frame by the `by` columns and average `y` at each distinct `x`: one
/// [`Curve`] per group, x ascending, groups in order of first appearance, named by the group's
/// values joined with `" / "` (a text column gives its value, e.g. `SmolLM2-135M`, another
/// column `name=value`, e.g. `prompt_id=3`). NaN `y` values are skipped.
///
/// The usual use: the mean entropy over positions at each depth, one line per prompt or model,
/// ready for [`plot::entropy_vs_depth`](crate::plot::entropy_vs_depth).
///
/// ```no_run
/// # use entroscope::frame::{self, ToFrame};
/// # fn demo(profiles: Vec<entroscope::LayerProfile>) -> entroscope::Result<()> {
/// let df = profiles.to_frame()?;
/// let lines = frame::mean_curves(&df, &[frame::MODEL], frame::DEPTH, frame::VALUE)?;
/// let chart = entroscope::plot::entropy_vs_depth(&lines, entroscope::plot::Band::None)?;
/// # Ok(()) }
/// ```
pub fn mean_curves(df: &DataFrame, by: &[&str], x: &str, y: &str) -> Result<Vec<Curve>> {
    // A working frame: the key columns as they are, x (with -0.0 normalised so that it groups
    // with 0.0) and y under private names, rows with a non-finite x or a NaN y dropped.
    const X: &str = "__entroscope_x";
    const Y: &str = "__entroscope_y";
    let xs = column_f64(df, x)?;
    let ys = column_f64(df, y)?;
    let keep: BooleanChunked = xs
        .iter()
        .zip(&ys)
        .map(|(a, b)| a.is_finite() && !b.is_nan())
        .collect();
    let mut keys: Vec<&str> = Vec::new();
    let mut cols: Vec<Column> = Vec::new();
    for &c in by {
        if !keys.contains(&c) {
            keys.push(c);
            cols.push(df.column(c)?.clone());
        }
    }
    cols.push(Column::new(
        X.into(),
        xs.iter().map(|v| v + 0.0).collect::<Vec<f64>>(),
    ));
    cols.push(Column::new(Y.into(), ys));
    let work = DataFrame::new(df.height(), cols)?.filter(&keep)?;
    let mut group_keys = keys.clone();
    group_keys.push(X);
    // Eager aggregation: polars marks it deprecated in favour of the lazy API, which would
    // add the `lazy` feature (a large build) for this one call.
    #[allow(deprecated)]
    let means = work.group_by_stable(group_keys)?.select([Y]).mean()?;
    let mx = column_f64(&means, X)?;
    // the mean is the last column (`<Y>_mean`)
    let mean_name = means.get_column_names().last().map(|n| n.to_string());
    let my = column_f64(&means, mean_name.as_deref().unwrap_or(Y))?;
    // text columns name groups by value ("SmolLM2-135M"), others as "column=value" ("prompt_id=3")
    let labels: Vec<Vec<String>> = keys
        .iter()
        .map(|&c| {
            let text = means.column(c)?.dtype() == &DataType::String;
            let v = column_str(&means, c)?;
            Ok(if text {
                v
            } else {
                v.into_iter().map(|x| format!("{c}={x}")).collect()
            })
        })
        .collect::<Result<_>>()?;
    // (group, x) rows come in order of first appearance, so groups do too
    let mut order: Vec<String> = Vec::new();
    let mut points: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
    for i in 0..means.height() {
        let key = labels
            .iter()
            .map(|l| l[i].as_str())
            .collect::<Vec<_>>()
            .join(" / ");
        points
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push((mx[i], my[i]));
    }
    Ok(order
        .into_iter()
        .map(|key| {
            let mut pts = points.remove(&key).unwrap_or_default();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let name = if by.is_empty() { y.to_owned() } else { key };
            Curve::new(
                name,
                pts.iter().map(|p| p.0).collect(),
                pts.iter().map(|p| p.1).collect(),
            )
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

fn create(path: &Path) -> Result<BufWriter<File>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(Error::Unwritable {
                path: path.to_path_buf(),
                detail: format!("directory {} does not exist", dir.display()),
            });
        }
    }
    File::create(path)
        .map(BufWriter::new)
        .map_err(|e| Error::Unwritable {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
}

fn unwritable(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Unwritable {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// Write `df` as CSV with a header row (UTF-8, `,` separator, full float precision).
/// A missing directory or an unwritable file gives [`Error::Unwritable`].
pub fn write_csv(df: &DataFrame, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let mut w = create(path)?;
    let mut df = df.clone();
    CsvWriter::new(&mut w)
        .include_header(true)
        .finish(&mut df)
        .map_err(|e| unwritable(path, e))?;
    std::io::Write::flush(&mut w).map_err(|e| unwritable(path, e))
}

/// Write `df` as Parquet (zstd-compressed; keeps dtypes exactly).
/// A missing directory or an unwritable file gives [`Error::Unwritable`].
pub fn write_parquet(df: &DataFrame, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let mut w = create(path)?;
    let mut df = df.clone();
    ParquetWriter::new(&mut w)
        .finish(&mut df)
        .map_err(|e| unwritable(path, e))?;
    std::io::Write::flush(&mut w).map_err(|e| unwritable(path, e))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Parquet,
}

fn format_of(path: &Path) -> Result<Format> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => Ok(Format::Csv),
        Some("parquet") | Some("pq") => Ok(Format::Parquet),
        _ => Err(Error::invalid(
            "path",
            path.display(),
            "a file name ending in .csv or .parquet",
        )),
    }
}

/// Write `df` as CSV or Parquet, chosen by the extension (`.csv`, `.parquet`/`.pq`, any case);
/// another extension gives [`Error::InvalidParameter`].
pub fn write_table(df: &DataFrame, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    match format_of(path)? {
        Format::Csv => write_csv(df, path),
        Format::Parquet => write_parquet(df, path),
    }
}

/// Read a CSV written by [`write_csv`] (header row; the text columns `model`, `token`, `metric`,
/// `units` are read as str whatever they contain, other columns' dtypes are inferred).
pub fn read_csv(path: impl AsRef<Path>) -> Result<DataFrame> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(Error::FileNotFound {
            path: path.to_path_buf(),
        });
    }
    // Peek at the header to force the known text columns to str.
    let header = CsvReadOptions::default()
        .with_has_header(true)
        .with_n_rows(Some(0))
        .try_into_reader_with_file_path(Some(PathBuf::from(path)))?
        .finish()?;
    let fields = header
        .get_column_names()
        .into_iter()
        .filter(|n| TEXT_COLUMNS.contains(&n.as_str()))
        .map(|n| (n.clone(), DataType::String));
    let overwrite: Schema = fields.collect();
    Ok(CsvReadOptions::default()
        .with_has_header(true)
        .with_schema_overwrite(Some(Arc::new(overwrite)))
        .try_into_reader_with_file_path(Some(PathBuf::from(path)))?
        .finish()?)
}

/// Read a CSV file with every column as text, exactly as written: no dtype inference, and an
/// empty field is `""`, not null (polars' reader: RFC 4180 quoting, quoted newlines, a UTF-8
/// BOM skipped). The way to load a data set whose columns are all text (TruthfulQA, FACTOR).
///
/// A missing file gives [`Error::FileNotFound`]; a file polars cannot parse (an unterminated
/// quote, a row with more fields than the header) gives [`Error::Corrupt`] naming the file. A
/// row with *fewer* fields than the header, and a blank line, read as empty fields.
pub fn read_csv_text(path: impl AsRef<Path>) -> Result<DataFrame> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(Error::FileNotFound {
            path: path.to_path_buf(),
        });
    }
    let corrupt = |e: polars::error::PolarsError| Error::Corrupt {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_parse_options(CsvParseOptions::default().with_missing_is_null(false))
        .try_into_reader_with_file_path(Some(PathBuf::from(path)))
        .map_err(corrupt)?
        .finish()
        .map_err(corrupt)
}

/// Read a Parquet file. A file whose pages contradict its footer makes polars' decoder panic
/// (found by fuzzing); that is caught and returned as [`Error::Corrupt`].
pub fn read_parquet(path: impl AsRef<Path>) -> Result<DataFrame> {
    let path = path.as_ref();
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ParquetReader::new(f).finish()
    }));
    let corrupt = |detail: String| Error::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    match read {
        Ok(df) => {
            let df = df?;
            // a malformed file can also decode into columns of different lengths
            match df.columns().iter().find(|c| c.len() != df.height()) {
                Some(c) => Err(corrupt(format!(
                    "column `{}` has {} rows, the table {}",
                    c.name(),
                    c.len(),
                    df.height()
                ))),
                None => Ok(df),
            }
        }
        Err(panic) => Err(Error::Corrupt {
            path: path.to_path_buf(),
            detail: format!(
                "the Parquet decoder failed: {}",
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("malformed pages")
            ),
        }),
    }
}

/// Read a CSV or Parquet file, chosen by the extension as in [`write_table`].
pub fn read_table(path: impl AsRef<Path>) -> Result<DataFrame> {
    let path = path.as_ref();
    match format_of(path)? {
        Format::Csv => read_csv(path),
        Format::Parquet => read_parquet(path),
    }
}

// ---------------------------------------------------------------------------------------------
// Display
// ---------------------------------------------------------------------------------------------

/// Make `println!("{df}")` (and evcxr's display of a frame) show up to `max_rows` rows and
/// `max_cols` columns, strings up to 40 characters, in a table up to 200 characters wide.
///
/// polars reads these settings from environment variables (`POLARS_FMT_MAX_ROWS`,
/// `POLARS_FMT_MAX_COLS`, `POLARS_FMT_STR_LEN`, `POLARS_TABLE_WIDTH`) each time it formats a frame;
/// its defaults (10 rows, 8 columns, 100 characters) hide a column of the 9-column profile frame.
/// Call it once at the top of a notebook, before other threads run (it sets process environment
/// variables). `0` keeps polars' default for that setting.
///
/// ```
/// entroscope::frame::set_display(20, 12);
/// assert_eq!(std::env::var("POLARS_FMT_MAX_ROWS").as_deref(), Ok("20"));
/// ```
pub fn set_display(max_rows: usize, max_cols: usize) {
    if max_rows > 0 {
        std::env::set_var("POLARS_FMT_MAX_ROWS", max_rows.to_string());
    }
    if max_cols > 0 {
        std::env::set_var("POLARS_FMT_MAX_COLS", max_cols.to_string());
    }
    std::env::set_var("POLARS_FMT_STR_LEN", "40");
    std::env::set_var("POLARS_TABLE_WIDTH", "200");
}

/// Format `df` showing up to `max_rows` rows and all columns, without changing the
/// process-wide settings of [`set_display`] for longer than the call.
pub fn show(df: &DataFrame, max_rows: usize) -> String {
    let keys = [
        "POLARS_FMT_MAX_ROWS",
        "POLARS_FMT_MAX_COLS",
        "POLARS_FMT_STR_LEN",
        "POLARS_TABLE_WIDTH",
    ];
    let saved: Vec<Option<String>> = keys.iter().map(|k| std::env::var(k).ok()).collect();
    std::env::set_var(keys[0], max_rows.to_string());
    std::env::set_var(keys[1], df.width().max(1).to_string());
    std::env::set_var(keys[2], "40");
    std::env::set_var(keys[3], "250");
    let out = format!("{df}");
    for (k, v) in keys.iter().zip(saved) {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatched_lengths_are_rejected() {
        let r = frame_from_columns(vec![("a", vec![1.0, 2.0].into()), ("b", vec![1i64].into())]);
        assert!(matches!(r, Err(Error::InvalidParameter { .. })), "{r:?}");
        let r = frame_from_columns(vec![("a", vec![1.0].into()), ("a", vec![1.0].into())]);
        assert!(matches!(r, Err(Error::InvalidParameter { .. })), "{r:?}");
    }

    struct Fit {
        model: String,
        k: usize,
        auc: f32,
        note: Option<&'static str>,
        pareto: bool,
    }

    fn fits() -> Vec<Fit> {
        vec![
            Fit {
                model: "a".into(),
                k: 3,
                auc: 0.5,
                note: None,
                pareto: true,
            },
            Fit {
                model: "b".into(),
                k: 11,
                auc: 0.75,
                note: Some("x"),
                pareto: false,
            },
        ]
    }

    #[test]
    fn from_rows_builds_typed_columns_in_call_order() {
        let df = from_rows(&fits(), |r, row| {
            row.str("model", &r.model)
                .usize("k", r.k)
                .f64("auc", r.auc)
                .opt_str("note", r.note)
                .bool("pareto", r.pareto);
        })
        .unwrap(); // ok: test-only
        let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(names, ["model", "k", "auc", "note", "pareto"]);
        let dtypes: Vec<DataType> = df.dtypes();
        assert_eq!(
            dtypes,
            [
                DataType::String,
                DataType::Int64,
                DataType::Float64,
                DataType::String,
                DataType::Boolean
            ]
        );
        assert_eq!(column_i64(&df, "k").unwrap(), [3, 11]); // ok: test-only
        assert_eq!(column_f64(&df, "auc").unwrap(), [0.5, 0.75]); // ok: test-only
        assert_eq!(df.column("note").unwrap().null_count(), 1); // ok: test-only
        assert_eq!(df.column("model").unwrap().null_count(), 0); // ok: test-only
                                                                 // same frame as the column-wise builder
        let by_columns = frame_from_columns(vec![
            ("model", vec!["a", "b"].into()),
            ("k", vec![3usize, 11].into()),
            ("auc", vec![0.5f32, 0.75].into()),
        ])
        .unwrap(); // ok: test-only
        assert!(df
            .select(["model", "k", "auc"])
            .unwrap() // ok: test-only
            .equals(&by_columns)); // ok: test-only
    }

    #[test]
    fn from_rows_accepts_any_order_after_the_first_row() {
        let mut first = true;
        let df = from_rows(&fits(), |r, row| {
            if std::mem::take(&mut first) {
                row.str("model", &r.model).usize("k", r.k);
            } else {
                row.usize("k", r.k).str("model", &r.model);
            }
        })
        .unwrap(); // ok: test-only
        assert_eq!(column_str(&df, "model").unwrap(), ["a", "b"]); // ok: test-only
        assert_eq!(column_i64(&df, "k").unwrap(), [3, 11]); // ok: test-only
    }

    #[test]
    fn from_rows_rejects_ragged_rows() {
        let bad = |r: Result<DataFrame>, want: &str| match r {
            Err(Error::InvalidParameter { value, .. }) => {
                assert!(value.contains(want), "{value}")
            }
            other => panic!("expected InvalidParameter, got {other:?}"), // ok: test-only
        };
        // a column missing from row 1
        bad(
            from_rows(&fits(), |r, row| {
                row.str("model", &r.model);
                if r.k == 3 {
                    row.usize("k", r.k);
                }
            }),
            "row 1 does not set column `k`",
        );
        // a new column in row 1
        bad(
            from_rows(&fits(), |r, row| {
                row.str("model", &r.model);
                if r.k == 11 {
                    row.usize("k", r.k);
                }
            }),
            "row 1 sets a new column `k`",
        );
        // twice in a row
        bad(
            from_rows(&fits(), |r, row| {
                row.str("model", &r.model).str("model", &r.model);
            }),
            "row 0 sets column `model` twice",
        );
        // two types
        bad(
            from_rows(&fits(), |r, row| {
                if r.k == 3 {
                    row.f64("k", 3.0);
                } else {
                    row.usize("k", r.k);
                }
            }),
            "column `k` set as i64",
        );
        bad(
            from_rows([u64::MAX], |v, row| {
                row.u64("big", v);
            }),
            "`big`",
        );
        let empty: Vec<Fit> = Vec::new();
        let df = from_rows(&empty, |r, row| {
            row.str("model", &r.model);
        })
        .unwrap(); // ok: test-only
        assert_eq!(df.shape(), (0, 0));
    }

    #[test]
    fn mean_curves_normalises_zero_and_skips_nan() {
        let df = frame_from_columns(vec![
            ("layer", vec![1i64, 1, 1, 2].into()),
            ("x", vec![0.0, -0.0, f64::NAN, 1.0].into()),
            ("y", vec![1.0, 2.0, 9.0, f64::NAN].into()),
        ])
        .unwrap(); // ok: test-only
        let s = mean_curves(&df, &["layer"], "x", "y").unwrap(); // ok: test-only
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "layer=1");
        assert_eq!(s[0].x, vec![0.0]);
        assert_eq!(s[0].y, vec![1.5]);
        let s = mean_curves(&df, &[], "x", "y").unwrap(); // ok: test-only
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "y");
    }

    #[test]
    fn mean_curves_groups_and_averages() {
        // two groups; group "p" has two rows at x=0 (mean of 1 and 3 = 2) and one at x=1.
        let df = frame_from_columns(vec![
            ("g", vec!["p", "p", "p", "q"].into()),
            ("x", vec![0.0, 0.0, 1.0, 0.5].into()),
            ("y", vec![1.0, 3.0, 5.0, 7.0].into()),
        ])
        .unwrap(); // ok: test-only
        let s = mean_curves(&df, &["g"], "x", "y").unwrap(); // ok: test-only
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "p");
        assert_eq!(s[0].x, vec![0.0, 1.0]);
        assert_eq!(s[0].y, vec![2.0, 5.0]);
        assert_eq!(s[1].name, "q");
        assert_eq!(s[1].y, vec![7.0]);
    }

    #[test]
    fn empty_and_odd_strings_survive_csv() {
        let dir = std::env::temp_dir().join(format!("entroscope-frame-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap(); // ok: test-only
        let path = dir.join("s.csv");
        let df = frame_from_columns(vec![
            (TOKEN, vec!["", " ", "\"", "a\nb", "null", "7"].into()),
            ("x", vec![1i64, 2, 3, 4, 5, 6].into()),
        ])
        .unwrap(); // ok: test-only
        write_csv(&df, &path).unwrap(); // ok: test-only
        let back = read_csv(&path).unwrap(); // ok: test-only
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(
            column_str(&back, TOKEN).unwrap(), // ok: test-only
            column_str(&df, TOKEN).unwrap()    // ok: test-only
        );
        assert_eq!(back.column(TOKEN).unwrap().null_count(), 0); // ok: test-only
    }

    #[test]
    fn show_prints_all_columns() {
        let cols: Vec<(String, ColumnData)> = (0..12)
            .map(|i| (format!("col{i}"), ColumnData::F64(vec![i as f64; 30])))
            .collect();
        let df = frame_from_columns(cols.iter().map(|(n, c)| (n.as_str(), c.clone())).collect())
            .unwrap(); // ok: test-only
        let s = show(&df, 25);
        assert!(
            s.contains("col0") && s.contains("col6") && s.contains("col11"),
            "{s}"
        );
    }
}
