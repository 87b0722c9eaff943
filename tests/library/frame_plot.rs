//! Frames (`entroscope::frame`) and charts (`entroscope::plot`): shape and content of the tidy
//! frame, CSV / Parquet round trips read back by polars' own readers, typed errors for bad paths
//! and empty inputs, and every chart rendering to a PNG / SVG of the requested size.

use std::path::PathBuf;

use entroscope::entropy::{Metric, Units};
use entroscope::frame::polars::prelude::*;
use entroscope::frame::{self, ColumnData, ToFrame};
use entroscope::plot::{self, Band, Chart, Curve, Markers};
use entroscope::{Error, LayerProfile};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("entroscope-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// L = 4 blocks, 3 positions; value(l, j) = 10·l + j, so each row can be checked by hand.
fn profile(prompt_id: usize, model: &str) -> LayerProfile {
    let n_layers = 4;
    let positions = vec![0, 2, 5];
    let values = (0..=n_layers)
        .flat_map(|l| (0..3).map(move |j| (10 * l + j) as f32))
        .collect();
    LayerProfile {
        model: model.into(),
        prompt_id,
        metric: Metric::renyi(2.0).unwrap(),
        units: Units::Bits,
        n_layers,
        positions,
        // "42" checks that CSV reading keeps the token column as text; "a,\"b\"" checks quoting.
        tokens: vec!["The".into(), " 42".into(), "a,\"b\"\n".into()],
        values,
    }
}

#[test]
fn profile_frame_has_tidy_columns_and_rows() {
    let p = profile(7, "tiny");
    let df = p.to_frame().unwrap();
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "model",
            "prompt_id",
            "position",
            "token",
            "layer",
            "depth",
            "metric",
            "units",
            "value"
        ]
    );
    assert_eq!(names, frame::PROFILE_COLUMNS);
    // (L + 1) × positions = 5 × 3
    assert_eq!(df.height(), 15);
    assert_eq!(df.column(frame::VALUE).unwrap().dtype(), &DataType::Float64);
    assert_eq!(df.column(frame::DEPTH).unwrap().dtype(), &DataType::Float64);
    assert_eq!(df.column(frame::LAYER).unwrap().dtype(), &DataType::Int64);

    let layer = frame::column_i64(&df, frame::LAYER).unwrap();
    let depth = frame::column_f64(&df, frame::DEPTH).unwrap();
    let pos = frame::column_i64(&df, frame::POSITION).unwrap();
    let val = frame::column_f64(&df, frame::VALUE).unwrap();
    let tok = frame::column_str(&df, frame::TOKEN).unwrap();
    for i in 0..df.height() {
        // layer-major rows: row i is layer i / 3, column i % 3
        let (l, j) = (i / 3, i % 3);
        assert_eq!(layer[i], l as i64);
        assert!((0.0..=1.0).contains(&depth[i]));
        assert_eq!(depth[i], l as f64 / 4.0);
        assert_eq!(pos[i], [0, 2, 5][j]);
        assert_eq!(val[i], (10 * l + j) as f64);
        assert_eq!(tok[i], p.tokens[j]);
    }
    // depth = 1 exactly at the last layer, 0 at the embeddings
    assert_eq!(depth[0], 0.0);
    assert_eq!(depth[14], 1.0);
    assert_eq!(layer[14], 4);
    let metric = frame::column_str(&df, frame::METRIC).unwrap();
    let units = frame::column_str(&df, frame::UNITS).unwrap();
    assert!(metric.iter().all(|m| m == "renyi:2"));
    assert!(units.iter().all(|u| u == "bits"));
    let pid = frame::column_i64(&df, frame::PROMPT_ID).unwrap();
    assert!(pid.iter().all(|&x| x == 7));
}

#[test]
fn many_profiles_stack_in_order() {
    let ps = vec![profile(0, "a"), profile(1, "b"), profile(2, "a")];
    let df = ps.to_frame().unwrap();
    assert_eq!(df.height(), 45);
    let pid = frame::column_i64(&df, frame::PROMPT_ID).unwrap();
    assert_eq!(pid[0], 0);
    assert_eq!(pid[15], 1);
    assert_eq!(pid[44], 2);
    let model = frame::column_str(&df, frame::MODEL).unwrap();
    assert_eq!(model[20], "b");
    // the slice impl and the Vec impl agree; an empty slice gives the columns and no rows
    assert!(ps[..].to_frame().unwrap().equals(&df));
    let empty: Vec<LayerProfile> = vec![];
    let e = empty.to_frame().unwrap();
    assert_eq!(e.shape(), (0, 9));

    // mean over positions per (model, depth): model "a" at layer l averages 10·l + {0,1,2} = 10·l + 1
    let s = frame::mean_curves(&df, &[frame::MODEL], frame::DEPTH, frame::VALUE).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].name, "a");
    assert_eq!(s[0].x, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    assert_eq!(s[0].y, vec![1.0, 11.0, 21.0, 31.0, 41.0]);
}

#[test]
fn inconsistent_profile_is_a_typed_error() {
    let mut p = profile(0, "m");
    p.values.pop();
    assert!(matches!(p.to_frame(), Err(Error::InvalidParameter { .. })));
    let mut p = profile(0, "m");
    p.tokens.pop();
    assert!(matches!(p.to_frame(), Err(Error::InvalidParameter { .. })));
    let mut p = profile(0, "m");
    p.n_layers = 0;
    p.values.truncate(3);
    assert!(matches!(p.to_frame(), Err(Error::InvalidParameter { .. })));
}

#[test]
fn csv_and_parquet_round_trip() {
    let dir = tmpdir("roundtrip");
    let df = vec![profile(0, "a"), profile(3, "b")].to_frame().unwrap();
    for name in ["p.csv", "p.parquet", "P.CSV"] {
        let path = dir.join(name);
        frame::write_table(&df, &path).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 0);
        let back = frame::read_table(&path).unwrap();
        assert!(back.equals(&df), "{name}:\n{back}\n{df}");
    }
    // read back with polars' own readers, not ours
    let csv = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(dir.join("p.csv")))
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(csv.shape(), (30, 9));
    let v = csv.column("value").unwrap().f64().unwrap();
    assert_eq!(v.get(29), Some(42.0)); // layer 4, column 2 → 10·4 + 2
    let file = std::fs::File::open(dir.join("p.parquet")).unwrap();
    let pq = ParquetReader::new(file).finish().unwrap();
    assert!(pq.equals(&df));

    // the explicit writers too
    frame::write_csv(&df, dir.join("x.csv")).unwrap();
    frame::write_parquet(&df, dir.join("x.parquet")).unwrap();
    assert!(frame::read_csv(dir.join("x.csv")).unwrap().equals(&df));
    assert!(frame::read_parquet(dir.join("x.parquet"))
        .unwrap()
        .equals(&df));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_paths_are_typed_errors() {
    let df = profile(0, "a").to_frame().unwrap();
    let missing = std::env::temp_dir().join("entroscope-no-such-dir/sub/p.csv");
    for r in [
        frame::write_csv(&df, &missing),
        frame::write_parquet(&df, missing.with_extension("parquet")),
        frame::write_table(&df, &missing),
    ] {
        match r {
            Err(Error::Unwritable { path, detail }) => {
                assert!(path.ends_with("p.csv") || path.ends_with("p.parquet"));
                assert!(detail.contains("does not exist"), "{detail}");
            }
            other => panic!("expected Unwritable, got {other:?}"),
        }
    }
    // a directory where the file should be
    let dir = tmpdir("isdir");
    let as_file = dir.join("taken.csv");
    std::fs::create_dir_all(&as_file).unwrap();
    assert!(matches!(
        frame::write_csv(&df, &as_file),
        Err(Error::Unwritable { .. })
    ));
    // unknown extension
    assert!(matches!(
        frame::write_table(&df, dir.join("p.xlsx")),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        frame::read_table(dir.join("nothing.csv")),
        Err(Error::FileNotFound { .. })
    ));
    // charts too
    let c = plot::lines(&[Curve::from_y("a", vec![1.0, 2.0])]).unwrap();
    assert!(matches!(
        c.save(missing.with_extension("png")),
        Err(Error::Unwritable { .. })
    ));
    assert!(matches!(
        c.save(dir.join("c.jpg")),
        Err(Error::InvalidParameter { .. })
    ));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn frame_from_columns_builds_typed_columns() {
    let df = frame::frame_from_columns(vec![
        ("layer", vec![0usize, 1, 2].into()),
        ("auc", vec![0.5, 0.7, 0.9].into()),
        ("split", vec!["a", "b", "c"].into()),
        ("ok", ColumnData::Bool(vec![true, false, true])),
    ])
    .unwrap();
    assert_eq!(df.shape(), (3, 4));
    assert_eq!(df.column("layer").unwrap().dtype(), &DataType::Int64);
    assert_eq!(df.column("auc").unwrap().dtype(), &DataType::Float64);
    assert_eq!(df.column("split").unwrap().dtype(), &DataType::String);
    assert_eq!(df.column("ok").unwrap().dtype(), &DataType::Boolean);
    let stacked = frame::concat(&[df.clone(), df.clone()]).unwrap();
    assert_eq!(stacked.height(), 6);
    assert!(matches!(
        frame::frame_from_columns(vec![("a", vec![1.0].into()), ("b", vec![1.0, 2.0].into())]),
        Err(Error::InvalidParameter { .. })
    ));
}

// ------------------------------------------------------------------------------------------
// charts
// ------------------------------------------------------------------------------------------

/// Width and height from a PNG's IHDR chunk (PNG spec: 8-byte signature, then the IHDR chunk:
/// 4-byte length, "IHDR", 4-byte big-endian width, 4-byte big-endian height).
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

fn all_charts() -> Vec<(&'static str, Chart)> {
    let p = profile(0, "tiny");
    let a = Curve::new("a", vec![0.0, 0.5, 1.0], vec![3.0, 2.0, 0.5]);
    let b = Curve::new("b", vec![0.0, 0.25, 1.0], vec![2.5, 2.2, 0.7]);
    let labels = [true, false, true, false, true];
    let scores = [0.9, 0.8, 0.7, 0.3, 0.1];
    vec![
        (
            "depth",
            plot::entropy_vs_depth(&[a.clone(), b.clone()], Band::Std).unwrap(),
        ),
        (
            "depth_iqr",
            plot::entropy_vs_depth(&[a.clone(), b.clone()], Band::Iqr).unwrap(),
        ),
        (
            "profiles",
            plot::profiles_vs_depth(std::slice::from_ref(&p), None, Band::None).unwrap(),
        ),
        ("heatmap", plot::heatmap(&p).unwrap()),
        (
            "hist",
            plot::histogram(&[("x", &[1.0, 2.0, 2.5][..]), ("y", &[0.5, 3.0][..])], 5).unwrap(),
        ),
        (
            "roc",
            plot::roc(&[Curve::roc("s", &scores, &labels).unwrap()]).unwrap(),
        ),
        (
            "scatter",
            plot::scatter(
                &[1.0, 2.0, 3.0],
                &[1.0, 0.0, 2.0],
                &["u", "v", "u"],
                Some(&[1.0, 2.0, 3.0]),
            )
            .unwrap(),
        ),
        (
            "lines",
            plot::lines(&[a, b]).unwrap().markers(Markers::Dots),
        ),
    ]
}

#[test]
fn every_chart_renders_png_and_svg_of_the_requested_size() {
    let dir = tmpdir("charts");
    for (name, chart) in all_charts() {
        let chart = chart.size(640, 400).title(name);
        let png = chart.png().unwrap();
        assert_eq!(png_size(&png), (640, 400), "{name}");
        let svg = chart.svg().unwrap();
        assert!(svg.starts_with("<svg"), "{name}");
        assert!(
            svg.contains("width=\"640\"") && svg.contains("height=\"400\""),
            "{name}"
        );
        assert!(svg.contains("<text"), "{name}: axis labels missing");

        let p = dir.join(format!("{name}.png"));
        chart.save(&p).unwrap();
        let on_disk = std::fs::read(&p).unwrap();
        assert_eq!(png_size(&on_disk), (640, 400));
        let s = dir.join(format!("{name}.svg"));
        chart.save(&s).unwrap();
        assert!(std::fs::metadata(&s).unwrap().len() > 500);

        // the PNG is not a blank canvas: some pixels are dark (text, axes)
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let dark = buf[..info.buffer_size()]
            .chunks(3)
            .filter(|px| px.iter().all(|&c| c < 100))
            .count();
        assert!(dark > 200, "{name}: only {dark} dark pixels");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn text_is_drawn_with_the_embedded_font() {
    // With no font registered, ab_glyph text drawing fails; rendering a title must succeed and
    // change pixels in the title strip (top 30 px) compared with an untitled chart.
    let c = plot::lines(&[Curve::from_y("a", vec![1.0, 2.0, 3.0])])
        .unwrap()
        .size(400, 300);
    let plain = c.clone().png().unwrap();
    let titled = c.title("Entropy").png().unwrap();
    assert_ne!(plain, titled);
}

#[test]
fn multi_panel_figure_through_generic_draw() {
    let dir = tmpdir("panels");
    let charts = all_charts();
    let path = dir.join("panels.png");
    plot::save_png(&path, 900, 300, |root| {
        let (l, r) = root.split_horizontally(450);
        charts[0].1.draw(&l)?;
        charts[3].1.draw(&r)
    })
    .unwrap();
    assert_eq!(png_size(&std::fs::read(&path).unwrap()), (900, 300));
    let svg_path = dir.join("panels.svg");
    plot::save_svg(&svg_path, 900, 300, |root| charts[4].1.draw(root)).unwrap();
    assert!(std::fs::read_to_string(&svg_path).unwrap().contains("<svg"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn empty_or_bad_inputs_are_typed_errors_not_panics() {
    let nd = |r: entroscope::Result<Chart>| matches!(r, Err(Error::NotEnoughData(_)));
    let inv = |r: entroscope::Result<Chart>| matches!(r, Err(Error::InvalidParameter { .. }));
    assert!(nd(plot::entropy_vs_depth(&[], Band::Std)));
    assert!(nd(plot::entropy_vs_depth(
        &[Curve::new("e", vec![], vec![])],
        Band::None
    )));
    assert!(nd(plot::lines(&[Curve::new(
        "nan",
        vec![0.0, 1.0],
        vec![f64::NAN, f64::NAN]
    )])));
    assert!(inv(plot::lines(&[Curve::new(
        "bad",
        vec![0.0, 1.0],
        vec![1.0]
    )])));
    assert!(nd(plot::roc(&[])));
    assert!(nd(plot::heatmap_matrix(&[], 0, &[] as &[&str])));
    assert!(inv(plot::heatmap_matrix(&[1.0, 2.0], 3, &["a"])));
    assert!(nd(plot::heatmap_matrix(&[f64::NAN], 1, &["a"])));
    assert!(nd(plot::histogram::<&str>(&[], 10)));
    assert!(nd(plot::histogram(&[("a", &[][..])], 10)));
    assert!(inv(plot::histogram(&[("a", &[1.0][..])], 0)));
    assert!(nd(plot::scatter(&[], &[], &[] as &[&str], None)));
    assert!(inv(plot::scatter(&[1.0], &[1.0, 2.0], &["a"], None)));
    assert!(nd(plot::profiles_vs_depth(&[], None, Band::None)));
    let mut p = profile(0, "m");
    p.positions.clear();
    p.tokens.clear();
    p.values.clear();
    assert!(nd(plot::heatmap(&p)));
    assert!(matches!(
        Curve::from_profile(&p, None),
        Err(Error::NotEnoughData(_))
    ));
    assert!(matches!(
        Curve::roc("r", &[0.1, 0.2], &[true, true]),
        Err(Error::NotEnoughData(_))
    ));
    // a bad size or range is reported when rendering
    let c = plot::lines(&[Curve::from_y("a", vec![1.0, 2.0])]).unwrap();
    assert!(matches!(
        c.clone().size(0, 10).png(),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        c.clone().x_range(1.0, 1.0).png(),
        Err(Error::InvalidParameter { .. })
    ));
    // a single point, constant values and partial NaNs still draw
    plot::lines(&[Curve::from_y("one", vec![2.0])])
        .unwrap()
        .png()
        .unwrap();
    plot::histogram(&[("const", &[1.0, 1.0, 1.0][..])], 4)
        .unwrap()
        .png()
        .unwrap();
    plot::heatmap_matrix(&[1.0, f64::NAN, 1.0, 1.0], 2, &["a", "b"])
        .unwrap()
        .png()
        .unwrap();
    plot::entropy_vs_depth(
        &[Curve::new(
            "gap",
            vec![0.0, 0.5, 1.0],
            vec![1.0, f64::NAN, 0.0],
        )],
        Band::Std,
    )
    .unwrap()
    .png()
    .unwrap();
}

#[test]
fn roc_auc_matches_hand_count() {
    // scores 0.9 (+), 0.8 (−), 0.7 (+), 0.6 (−): positive–negative pairs ranked right:
    // (0.9, 0.8), (0.9, 0.6), (0.7, 0.6) = 3 of 4 → AUC 0.75.
    let s = Curve::roc("r", &[0.9, 0.8, 0.7, 0.6], &[true, false, true, false]).unwrap();
    assert!((plot::trapezoid_area(&s) - 0.75).abs() < 1e-12);
    assert_eq!((s.x[0], s.y[0]), (0.0, 0.0));
    assert_eq!((*s.x.last().unwrap(), *s.y.last().unwrap()), (1.0, 1.0));
    // ties count ½: one positive and one negative with the same score → AUC 0.5
    let t = Curve::roc("t", &[0.5, 0.5], &[true, false]).unwrap();
    assert!((plot::trapezoid_area(&t) - 0.5).abs() < 1e-12);
}

#[test]
fn series_from_profile_means_over_positions() {
    let p = profile(2, "m");
    let s = Curve::from_profile(&p, None).unwrap();
    // row l holds 10·l + {0, 1, 2}: mean 10·l + 1
    assert_eq!(s.y, vec![1.0, 11.0, 21.0, 31.0, 41.0]);
    assert_eq!(s.x, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    assert_eq!(s.name, "m #2");
    let s = Curve::from_profile(&p, Some(2)).unwrap();
    assert_eq!(s.y, vec![2.0, 12.0, 22.0, 32.0, 42.0]);
    assert!(matches!(
        Curve::from_profile(&p, Some(3)),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn display_helper_shows_all_nine_columns() {
    let df = vec![profile(0, "a"); 4].to_frame().unwrap();
    let s = frame::show(&df, 30);
    for c in frame::PROFILE_COLUMNS {
        assert!(s.contains(c), "column {c} hidden:\n{s}");
    }
    assert!(s.contains("(60, 9)"), "{s}");
}

/// A heatmap writes one label per cell (tuned-lens's top-token picture): the labels must match
/// the cells, only heatmaps take them, and the grid of a `TopTokens` is layer-major like the
/// heatmap's values.
#[test]
fn heatmap_cell_labels() {
    use entroscope::lens::{TopToken, TopTokens};
    let top = TopTokens {
        model: "m".into(),
        n_layers: 1,
        k: 1,
        entries: [(0, 0, "a"), (0, 1, "b"), (1, 0, " Paris"), (1, 1, "c")]
            .iter()
            .map(|&(layer, position, t)| TopToken {
                layer,
                position,
                rank: 0,
                id: 0,
                token: t.into(),
                prob: 0.5,
            })
            .collect(),
    };
    let grid = top.grid();
    assert_eq!(grid, vec!["a", "b", " Paris", "c"]);
    let chart = plot::heatmap_matrix(&[1.0, 2.0, 3.0, 40.0], 2, &["x", "y"]).unwrap();
    assert!(chart.clone().cell_labels(vec!["a".into()]).is_err());
    let labelled = chart.cell_labels(grid).unwrap();
    let png = labelled.png().unwrap();
    assert!(png.len() > 1000);
    let lines = plot::entropy_vs_depth(
        &[Curve::new("a", vec![0.0, 1.0], vec![1.0, 2.0])],
        Band::None,
    )
    .unwrap();
    assert!(lines.cell_labels(vec![]).is_err());
}
