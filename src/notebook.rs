//! `use entroscope::notebook::*;` — a notebook's set-up in one line: the [prelude](crate::prelude),
//! the papers' [`Report`] trait and run sizes, the bundled models, and [`Show`], which displays
//! charts, tables and Markdown inline in evcxr (Jupyter's Rust kernel).
//!
//! ```no_run
//! use entroscope::notebook::*;
//! use entroscope::papers::uncertainty;
//! # fn main() -> entroscope::Result<()> {
//! // the run size the notebook runner asks for (ENTROSCOPE_SIZE or ENTROSCOPE_QUICK=1)
//! let report = uncertainty::run(&options::<uncertainty::Options>()?)?;
//! Markdown(report.markdown()).show();
//! report.summaries.to_frame()?.show();
//! report.charts()?.show();
//! # Ok(()) }
//! ```

pub use crate::model::{bundled_models, default_model_path};
pub use crate::papers::preset::Sizes;
pub use crate::papers::{Preset, Report};
pub use crate::prelude::*;

use base64::Engine;

use crate::frame::DataFrame;

/// The size a chart is shown at in a notebook column, pixels.
pub const NOTEBOOK_CHART_SIZE: (u32, u32) = (640, 400);

/// Rows of a table shown inline; the rest are counted below it, never dropped silently.
pub const NOTEBOOK_TABLE_ROWS: usize = 40;

/// The run size asked for by the environment: `ENTROSCOPE_SIZE` (quick | default | full |
/// paper), or `ENTROSCOPE_QUICK=1`; the default size otherwise. `make notebooks` and CI set it.
pub fn size() -> Result<Preset> {
    Preset::from_env()
}

/// A paper's options at the size the environment asks for ([`size`]).
pub fn options<T: Sizes>() -> Result<T> {
    Ok(size()?.pick())
}

/// The models a paper notebook runs on: those `ENTROSCOPE_MODEL` names (comma-separated bundled
/// names, GGUF files, HF directories or hub ids; `ENTROSCOPE_MODEL=qwen2.5-coder-1.5b-instruct`
/// runs a notebook at paper scale), else `default` (its options' own).
pub fn models_or(default: Vec<String>) -> Vec<String> {
    models_named(std::env::var("ENTROSCOPE_MODEL").ok().as_deref(), default)
}

/// The models a comma-separated list names, else `default`.
fn models_named(list: Option<&str>, default: Vec<String>) -> Vec<String> {
    let named: Vec<String> = list
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(String::from)
        .collect();
    if named.is_empty() {
        default
    } else {
        named
    }
}

/// Markdown text, shown rendered (a report's [`Report::markdown`], a note).
#[derive(Debug, Clone, PartialEq)]
pub struct Markdown(pub String);

/// Inline display in a notebook: charts as PNG at [`NOTEBOOK_CHART_SIZE`], tables as HTML,
/// Markdown rendered. Outside a notebook the same markers are printed as text. evcxr merges
/// everything a cell displays into one bundle, of which a frontend draws one: show one thing
/// per cell (several charts as one `Vec`).
pub trait Show {
    /// What is printed: evcxr's `EVCXR_BEGIN_CONTENT <mime>` … `EVCXR_END_CONTENT` blocks.
    fn content(&self) -> String;

    /// Display it below the cell.
    fn show(&self) {
        let c = self.content();
        if !c.is_empty() {
            println!("{c}");
        }
    }
}

impl Show for Chart {
    fn content(&self) -> String {
        let (w, h) = NOTEBOOK_CHART_SIZE;
        self.clone().size(w, h).evcxr_content()
    }
}

/// A paper's claims beside this run's measurements (a report's `findings_of(figure)`),
/// rendered as Markdown, one paragraph each; nothing when the run has none.
impl Show for Vec<crate::papers::Finding> {
    fn content(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let text: Vec<String> = self.iter().map(|f| f.markdown()).collect();
        Markdown(text.join("\n\n")).content()
    }
}

/// A chart a report draws only when it has the data: nothing to show otherwise.
impl Show for Option<Chart> {
    fn content(&self) -> String {
        self.as_ref().map(Show::content).unwrap_or_default()
    }
}

/// Named charts (a report's `charts()`), side by side and wrapping, as one HTML display: evcxr
/// merges a cell's displays into one, so several PNG displays would keep only the last.
impl Show for Vec<(String, Chart)> {
    fn content(&self) -> String {
        let (w, h) = NOTEBOOK_CHART_SIZE;
        let imgs: Vec<String> = self
            .iter()
            .map(|(name, c)| match c.clone().size(w, h).png() {
                Ok(png) => format!(
                    "<img title=\"{}\" src=\"data:image/png;base64,{}\">",
                    escape(name),
                    base64::engine::general_purpose::STANDARD.encode(png)
                ),
                Err(e) => format!(
                    "<p>{}: chart error: {}</p>",
                    escape(name),
                    escape(&e.to_string())
                ),
            })
            .collect();
        if imgs.is_empty() {
            return String::new();
        }
        format!(
            "EVCXR_BEGIN_CONTENT text/html\n<div>{}</div>\nEVCXR_END_CONTENT",
            imgs.join("")
        )
    }
}

impl Show for Markdown {
    fn content(&self) -> String {
        format!(
            "EVCXR_BEGIN_CONTENT text/markdown\n{}\nEVCXR_END_CONTENT",
            self.0
        )
    }
}

impl Show for DataFrame {
    fn content(&self) -> String {
        format!(
            "EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            html_table(self, NOTEBOOK_TABLE_ROWS)
        )
    }
}

/// `df` as an HTML table: every column, the first `max_rows` rows, and a line that counts the
/// rows left out. Floats show 4 decimal places (scientific notation when tiny or huge); text
/// is escaped, and the tokens of token columns (`token`, `…_token`, `generated`, `target`)
/// show their whitespace as charts do (␣ space, ↵ newline, ⇥ tab).
pub fn html_table(df: &DataFrame, max_rows: usize) -> String {
    use polars::prelude::AnyValue;
    let mut s = String::from("<table>\n<thead><tr>");
    for name in df.get_column_names() {
        s.push_str(&format!("<th>{}</th>", escape(name.as_str())));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    let shown = df.height().min(max_rows);
    for i in 0..shown {
        s.push_str("<tr>");
        for col in df.columns() {
            let name = col.name().as_str();
            let tokens = name == "token"
                || name.ends_with("_token")
                || name == "generated"
                || name == "target";
            let text = |t: &str| {
                if tokens {
                    crate::plot::token_label(t, 40)
                } else {
                    t.to_string()
                }
            };
            let cell = match col.get(i) {
                Ok(AnyValue::Float64(x)) => format_float(x),
                Ok(AnyValue::Float32(x)) => format_float(f64::from(x)),
                Ok(AnyValue::Null) => String::new(),
                Ok(AnyValue::String(t)) => text(t),
                Ok(AnyValue::StringOwned(t)) => text(t.as_str()),
                Ok(v) => v.to_string(),
                Err(_) => String::new(),
            };
            s.push_str(&format!("<td>{}</td>", escape(&cell)));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>");
    if df.height() > shown {
        s.push_str(&format!(
            "\n<p>{} of {} rows shown; the table holds them all.</p>",
            shown,
            df.height()
        ));
    }
    s
}

fn format_float(x: f64) -> String {
    if x.is_finite() && x != 0.0 && (x.abs() >= 1e5 || x.abs() < 1e-3) {
        format!("{x:.3e}")
    } else if x.is_finite() {
        let t = format!("{x:.4}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        x.to_string()
    }
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{frame_from_columns, ColumnData};

    #[test]
    fn tables_are_html_with_every_column_and_the_rows_left_out_counted() {
        let df = frame_from_columns(vec![
            (
                "model",
                ColumnData::Str(vec!["a<b".into(), "c".into(), "d".into()]),
            ),
            ("auc", ColumnData::F64(vec![0.123456, 1.0, f64::NAN])),
            ("n", ColumnData::I64(vec![1, 2, 3])),
        ])
        .unwrap(); // ok: test-only
        let h = html_table(&df, 2);
        assert!(h.contains("<th>model</th><th>auc</th><th>n</th>"), "{h}");
        assert!(
            h.contains("<td>a&lt;b</td><td>0.1235</td><td>1</td>"),
            "{h}"
        );
        assert!(h.contains("<td>c</td><td>1</td><td>2</td>"), "{h}");
        assert!(!h.contains("<td>d</td>"), "{h}");
        assert!(h.contains("2 of 3 rows shown"), "{h}");
        let c = df.content();
        assert!(c.starts_with("EVCXR_BEGIN_CONTENT text/html\n<table>"));
        assert!(c.ends_with("\nEVCXR_END_CONTENT"));
    }

    #[test]
    fn token_columns_show_their_whitespace_and_text_columns_do_not() {
        let df = frame_from_columns(vec![
            ("token", ColumnData::Str(vec![" Paris".into(), "\n".into()])),
            ("top_token", ColumnData::Str(vec![" is".into(), "x".into()])),
            ("text", ColumnData::Str(vec![" Paris".into(), "y".into()])),
        ])
        .unwrap(); // ok: test-only
        let h = html_table(&df, 5);
        assert!(
            h.contains("<td>␣Paris</td><td>␣is</td><td> Paris</td>"),
            "{h}"
        );
        assert!(h.contains("<td>↵</td><td>x</td><td>y</td>"), "{h}");
    }

    #[test]
    fn models_come_from_a_list_when_it_names_them() {
        let default = vec!["smollm2-135m-instruct".to_string()];
        assert_eq!(models_named(None, default.clone()), default);
        assert_eq!(models_named(Some(" , "), default.clone()), default);
        assert_eq!(
            models_named(
                Some(" qwen2.5-coder-1.5b-instruct, gemma-3-270m ,"),
                default.clone()
            ),
            ["qwen2.5-coder-1.5b-instruct", "gemma-3-270m"]
        );
    }

    #[test]
    fn markdown_and_missing_charts() {
        let m = Markdown("# AUC\n| a |".into()).content();
        assert_eq!(
            m,
            "EVCXR_BEGIN_CONTENT text/markdown\n# AUC\n| a |\nEVCXR_END_CONTENT"
        );
        assert_eq!(None::<Chart>.content(), "");
        let c = crate::plot::lines(&[crate::plot::Curve::from_y("a", vec![1.0, 2.0])]).unwrap(); // ok: test-only
        let two = vec![("a".to_string(), c.clone()), ("b".to_string(), c)].content();
        assert!(two.starts_with("EVCXR_BEGIN_CONTENT text/html\n<div><img title=\"a\""));
        assert_eq!(two.matches("data:image/png;base64,iVBORw0KGgo").count(), 2);
        assert_eq!(two.matches("EVCXR_BEGIN_CONTENT").count(), 1);
        assert_eq!(Vec::<(String, Chart)>::new().content(), "");
    }
}
