//! Prompt files (txt, JSON Lines, CSV, Parquet), their typed errors, shards of a run and the
//! merge of the shards' parts, against values written by hand and an unsharded run.

use std::path::{Path, PathBuf};

use crate::common::fixture;
use entroscope::data::prompts::{LABEL, PROMPT};
use entroscope::data::{
    load_prompts, merge_parts, profile_prompts, Prompt, PromptFileError, Shard,
};
use entroscope::frame::polars::prelude::{Column, DataFrame};
use entroscope::frame::{self, ToFrame};
use entroscope::prelude::*;

fn p(id: &str, text: &str, label: Option<&str>) -> Prompt {
    Prompt {
        id: id.into(),
        text: text.into(),
        label: label.map(Into::into),
    }
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("entroscope-prompts-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The problem inside an [`Error::PromptFile`] (and that it names the file).
fn problem(path: &Path) -> PromptFileError {
    match load_prompts(path) {
        Err(Error::PromptFile { path: p, problem }) => {
            assert_eq!(p, path);
            problem
        }
        other => panic!(
            "{}: expected Error::PromptFile, got {other:?}",
            path.display()
        ),
    }
}

#[test]
fn txt_is_one_prompt_per_line_with_line_number_ids() {
    // lines 1 and 2 are blank (one only spaces), line 3 ends in CRLF
    let got = load_prompts(fixture("prompts/prompts.txt")).unwrap();
    assert_eq!(
        got,
        [
            p("0", "The capital of France is", None),
            p("3", "Once upon a time", None),
            p("4", "def f(x):", None),
        ]
    );
}

#[test]
fn jsonl_holds_ids_labels_and_multi_line_code() {
    // the blank line 2 is not a record: the second record's default id is "1"; a numeric id
    // is kept as its text
    let got = load_prompts(fixture("prompts/prompts.jsonl")).unwrap();
    assert_eq!(
        got,
        [
            p("capital", "The capital of France is", Some("fact")),
            p(
                "1",
                "def fib(n):\n    if n < 2:\n        return n\n    return",
                Some("code")
            ),
            p("42", "Once upon a time, \"she\" said", None),
        ]
    );
}

#[test]
fn csv_has_a_text_column_and_optional_id_and_label() {
    // row 1 is quoted over two lines, row 2 has no id (→ its row index) and no label, row 3
    // has an empty text and is skipped
    let got = load_prompts(fixture("prompts/prompts.csv")).unwrap();
    assert_eq!(
        got,
        [
            p("q1", "The capital of France is", Some("fact")),
            p("q2", "def fib(n):\n    return n", Some("code")),
            p("2", "He said \"hi\", then left", None),
        ]
    );
    // without id / label columns, ids are row indices
    let dir = tempdir("csv");
    let path = write(&dir, "bare.csv", "text\nfirst\n\"second, with a comma\"\n");
    assert_eq!(
        load_prompts(&path).unwrap(),
        [p("0", "first", None), p("1", "second, with a comma", None)]
    );
}

#[test]
fn parquet_ids_may_be_integers_and_labels_null() {
    let dir = tempdir("parquet");
    let path = dir.join("prompts.parquet");
    let df = DataFrame::new(
        3,
        vec![
            Column::new("id".into(), [10i64, 11, 12]),
            Column::new("text".into(), ["a b", "line\nbreak", "c"]),
            Column::new("label".into(), [Some("x"), None, Some("y")]),
        ],
    )
    .unwrap();
    frame::write_parquet(&df, &path).unwrap();
    assert_eq!(
        load_prompts(&path).unwrap(),
        [
            p("10", "a b", Some("x")),
            p("11", "line\nbreak", None),
            p("12", "c", Some("y")),
        ]
    );
    // a numeric `text` column is named with its type
    let bad = dir.join("numbers.parquet");
    let df = DataFrame::new(1, vec![Column::new("text".into(), [1i64])]).unwrap();
    frame::write_parquet(&df, &bad).unwrap();
    assert_eq!(
        problem(&bad),
        PromptFileError::BadColumn {
            column: "text".into(),
            dtype: "i64".into()
        }
    );
}

#[test]
fn bad_prompt_files_are_typed_errors_that_say_what_to_do() {
    let dir = tempdir("bad");
    // missing file
    let missing = dir.join("absent.jsonl");
    assert!(matches!(
        load_prompts(&missing),
        Err(Error::FileNotFound { path }) if path == missing
    ));
    // no `text` column: the columns found are listed
    let csv = write(&dir, "cols.csv", "prompt,label\nhello,x\n");
    let e = problem(&csv);
    assert_eq!(
        e,
        PromptFileError::NoTextColumn {
            columns: vec!["prompt".into(), "label".into()]
        }
    );
    assert!(e.to_string().contains("columns: prompt, label"), "{e}");
    // JSON lines that are not objects with a string `text`: the 1-based line number
    for (body, line, detail) in [
        ("{\"text\": \"ok\"}\n{\"id\": 1}\n", 2, "no `text` key"),
        (
            "{\"text\": \"ok\"}\n\n\"just text\"\n",
            3,
            "a string is not a JSON object",
        ),
        ("{\"text\": 5}\n", 1, "`text` is a number, not a string"),
        (
            "{\"text\": \"ok\"}\n{\"text\": \"ok\", \"label\": [1]}\n",
            2,
            "`label` is an array; use a string or a number",
        ),
    ] {
        let path = write(&dir, "bad.jsonl", body);
        assert_eq!(
            problem(&path),
            PromptFileError::BadJsonLine {
                line,
                detail: detail.into()
            },
            "{body:?}"
        );
    }
    let path = write(
        &dir,
        "broken.jsonl",
        "{\"text\": \"ok\"}\n{\"text\": \"no end\n",
    );
    let e = problem(&path);
    assert!(
        matches!(e, PromptFileError::BadJsonLine { line: 2, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("line 2: not JSON"), "{e}");
    // empty files: no prompts
    for (name, body) in [
        ("empty.txt", ""),
        ("blank.txt", "\n  \n\r\n"),
        ("empty.jsonl", "\n"),
        ("empty.csv", ""),
        ("header.csv", "id,text\n"),
        ("blanks.csv", "text\n\"\"\n  \n"),
    ] {
        let path = write(&dir, name, body);
        assert_eq!(problem(&path), PromptFileError::Empty, "{name}");
    }
    // a row with more fields than the header (an unquoted comma)
    let path = write(&dir, "ragged.csv", "text\na, b\n");
    let e = problem(&path);
    assert!(matches!(e, PromptFileError::BadCsv { .. }), "{e}");
    assert!(e.to_string().contains("quote fields"), "{e}");
    // an id used twice, an unknown extension
    let path = write(
        &dir,
        "dup.jsonl",
        "{\"text\": \"a\", \"id\": \"x\"}\n{\"text\": \"b\", \"id\": \"x\"}\n",
    );
    assert_eq!(
        problem(&path),
        PromptFileError::DuplicateId { id: "x".into() }
    );
    let path = write(&dir, "prompts.md", "hello\n");
    assert_eq!(
        problem(&path),
        PromptFileError::UnknownFormat {
            extension: "md".into()
        }
    );
}

#[test]
fn shards_parse_and_partition() {
    let s = Shard::parse("2/3").unwrap();
    assert_eq!((s.index(), s.count()), (2, 3));
    assert_eq!(
        " 8 / 8 ".parse::<Shard>().unwrap(),
        Shard::new(8, 8).unwrap()
    );
    for bad in ["0/3", "4/3", "x", "3", "1/0", "-1/3", "1/3/5", "", "a/b"] {
        assert!(
            matches!(
                Shard::parse(bad),
                Err(Error::InvalidParameter { name: "shard", .. })
            ),
            "{bad:?}"
        );
    }
    assert!(Shard::new(0, 1).is_err());
    let items = ["a", "b", "c", "d", "e"];
    assert_eq!(
        Shard::parse("1/3").unwrap().select(&items),
        [(0, &"a"), (3, &"d")]
    );
    assert_eq!(
        Shard::parse("2/3").unwrap().select(&items),
        [(1, &"b"), (4, &"e")]
    );
    assert_eq!(Shard::parse("3/3").unwrap().select(&items), [(2, &"c")]);
    assert_eq!(Shard::WHOLE.select(&items).len(), 5);
    assert!(Shard::parse("6/6").unwrap().select(&items).is_empty());
    assert_eq!(
        Shard::parse("2/3").unwrap().file_name(),
        "part-2-of-3.parquet"
    );
}

/// Equal columns (names, dtypes, and every value as text, so NaN equals NaN and null equals null).
fn assert_frames_equal(a: &DataFrame, b: &DataFrame) {
    assert_eq!(a.schema(), b.schema());
    assert_eq!(a.height(), b.height());
    for name in a.get_column_names() {
        assert_eq!(
            frame::column_str(a, name).unwrap(),
            frame::column_str(b, name).unwrap(),
            "column {name}"
        );
    }
}

#[test]
fn sharded_runs_merge_into_the_unsharded_table() {
    let lm = Lm::from_hf_dir(fixture("tiny-llama")).unwrap();
    let prompts = vec![
        p("a", "the cat sat", Some("x")),
        p("b", "on the mat", None),
        p("c", "def f(x):\n    return x", Some("code")),
        p("d", "one two three four", Some("x")),
        p("e", "hello", None),
    ];
    let lens = LogitLens::normed();
    let metrics = [Metric::Shannon, Metric::CrossEntropy];
    let whole =
        profile_prompts(&lm, &lens, &metrics, &Shard::WHOLE.select(&prompts), false).unwrap();
    let columns: Vec<&str> = whole
        .get_column_names()
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(
        columns,
        [
            "model",
            "prompt_id",
            PROMPT,
            LABEL,
            "position",
            "token",
            "layer",
            "depth",
            "metric",
            "units",
            "value"
        ]
    );
    // the unsharded table is LogitLens::profile of each prompt, with its id and label
    let mut expected = vec![];
    for (i, q) in prompts.iter().enumerate() {
        let tr = lm.trace_text(&q.text, &CaptureSpec::default()).unwrap();
        for prof in lens
            .profile(&lm, &tr, &metrics, &Targets::NextToken)
            .unwrap()
        {
            let rows = prof.to_frame().unwrap().height();
            expected.extend(std::iter::repeat_n(
                (i as i64, q.id.clone(), q.label.clone()),
                rows,
            ));
        }
    }
    let got_ids = frame::column_i64(&whole, "prompt_id").unwrap();
    let got_prompt = frame::column_str(&whole, PROMPT).unwrap();
    let labels = whole.column(LABEL).unwrap().str().unwrap();
    let got: Vec<(i64, String, Option<String>)> = (0..whole.height())
        .map(|r| {
            (
                got_ids[r],
                got_prompt[r].clone(),
                labels.get(r).map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(got, expected);

    // three shards written as parts, merged
    let dir = tempdir("parts");
    for i in 1..=3 {
        let shard = Shard::new(i, 3).unwrap();
        let df = profile_prompts(&lm, &lens, &metrics, &shard.select(&prompts), false).unwrap();
        frame::write_parquet(&df, dir.join(shard.file_name())).unwrap();
    }
    std::fs::write(dir.join("notes.txt"), "not a part").unwrap();
    let merged = merge_parts(&dir).unwrap();
    assert_frames_equal(&merged, &whole);

    // an empty shard still writes a part with the columns, and the merge is unchanged
    let dir6 = tempdir("parts6");
    for i in 1..=6 {
        let shard = Shard::new(i, 6).unwrap();
        let df = profile_prompts(&lm, &lens, &metrics, &shard.select(&prompts), false).unwrap();
        if i == 6 {
            assert_eq!(df.height(), 0);
        }
        frame::write_parquet(&df, dir6.join(shard.file_name())).unwrap();
    }
    assert_frames_equal(&merge_parts(&dir6).unwrap(), &whole);

    // a missing part is named, with the shard to rerun
    std::fs::remove_file(dir.join("part-2-of-3.parquet")).unwrap();
    let e = merge_parts(&dir).unwrap_err();
    assert!(matches!(e, Error::NotEnoughData(_)), "{e}");
    assert!(
        e.to_string().contains("missing part-2-of-3.parquet")
            && e.to_string().contains("--shard 2/3"),
        "{e}"
    );
    // parts of two runs (different n) do not mix; an empty directory is an error
    std::fs::copy(
        dir6.join("part-1-of-6.parquet"),
        dir.join("part-1-of-6.parquet"),
    )
    .unwrap();
    let e = merge_parts(&dir).unwrap_err();
    assert!(
        matches!(e, Error::InvalidParameter { name: "dir", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("part-*-of-3 and part-*-of-6"), "{e}");
    assert!(merge_parts(tempdir("none")).is_err());
}

/// `score`'s shards: each scores the items `k % n == i - 1` of the first `limit`, and their
/// per-item tables merge (by `index`) into the unsharded run's table.
#[test]
fn sharded_scores_merge_into_the_unsharded_table() {
    use entroscope::data::{FactorItem, FactorSplit};
    use entroscope::score::{score_factor, BenchOptions, BenchReport, ScoreMethod};
    let lm = Lm::from_hf_dir(fixture("tiny-llama")).unwrap();
    let item = |index: usize, prefix: &str, completion: &str| FactorItem {
        index,
        doc_id: format!("d{index}"),
        prefix: prefix.into(),
        completion: completion.into(),
        contradictions: ["a dog".into(), "the".into(), "mat".into()],
    };
    let items = vec![
        item(0, "the cat sat on", "the mat."),
        item(1, "a dog", "sat."),
        item(2, "one two", "three."),
        item(3, "hello", "world."),
        item(4, "def f(x):", "return x"),
        item(5, "not scored", "past the limit"),
    ];
    let run = |shard: Option<Shard>| {
        let opts = BenchOptions {
            limit: Some(5),
            shard,
            ..Default::default()
        };
        score_factor(
            &lm,
            &items,
            FactorSplit::News,
            &ScoreMethod::Baseline,
            &opts,
        )
        .map(|r| BenchReport::Factor(r).to_frame().unwrap())
    };
    let whole = run(None).unwrap();
    assert_eq!(frame::column_i64(&whole, "index").unwrap(), [0, 1, 2, 3, 4]);
    let dir = tempdir("score-parts");
    for i in 1..=3 {
        let shard = Shard::new(i, 3).unwrap();
        let df = run(Some(shard)).unwrap();
        let want: Vec<i64> = (0..5).filter(|k| k % 3 == i as i64 - 1).collect();
        assert_eq!(
            frame::column_i64(&df, "index").unwrap(),
            want,
            "shard {shard}"
        );
        frame::write_parquet(&df, dir.join(shard.file_name())).unwrap();
    }
    assert_frames_equal(&merge_parts(&dir).unwrap(), &whole);
    // more shards than items: the empty shard says so instead of writing nothing
    let e = run(Some(Shard::new(6, 6).unwrap())).unwrap_err();
    assert!(
        matches!(e, Error::InvalidParameter { name: "shard", .. }),
        "{e}"
    );
}

/// The command line: `profile --shard i/n` writes parts that `merge` joins into the unsharded
/// table, for a JSON Lines file.
#[test]
fn cli_shard_and_merge() {
    let bin = env!("CARGO_BIN_EXE_entroscope");
    let model = fixture("tiny-llama");
    let text = fixture("prompts/prompts.jsonl");
    let dir = tempdir("cli");
    let run = |args: &[&str]| {
        let mut all = vec![
            "--model",
            model.to_str().unwrap(),
            "--text-file",
            text.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let out = std::process::Command::new(bin)
            .arg("profile")
            .args(&all)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let whole = dir.join("whole.parquet");
    run(&["--out", whole.to_str().unwrap()]);
    let parts = dir.join("parts");
    for s in ["1/2", "2/2"] {
        run(&["--shard", s, "--out", parts.to_str().unwrap()]);
    }
    let merged = dir.join("merged.csv");
    let out = std::process::Command::new(bin)
        .args([
            "merge",
            "--dir",
            parts.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let whole = frame::read_table(&whole).unwrap();
    let merged_pq = merge_parts(&parts).unwrap();
    assert_frames_equal(&merged_pq, &whole);
    // the CSV holds the same ids and labels
    let csv = frame::read_csv(&merged).unwrap();
    assert_eq!(csv.height(), whole.height());
    assert_eq!(
        frame::column_str(&csv, PROMPT).unwrap(),
        frame::column_str(&whole, PROMPT).unwrap()
    );
    let mut ids = frame::column_str(&whole, PROMPT).unwrap();
    ids.dedup();
    assert_eq!(ids, ["capital", "1", "42"]);
    // a bad shard is refused by the argument parser
    let out = std::process::Command::new(bin)
        .args([
            "profile",
            "--text-file",
            text.to_str().unwrap(),
            "--shard",
            "4/3",
            "--out",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 ≤ i ≤ n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `profile` run killed part-way (SIGKILL to the child) resumes when run again: the prompts it
/// kept are read back, a kept item cut short is redone, and the table equals an uninterrupted
/// run's byte for byte; the kept items are removed once the table is written.
#[test]
fn killed_profile_resumes_to_the_same_table() {
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_entroscope");
    let dir = std::env::temp_dir().join(format!("entroscope-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let prompts = dir.join("prompts.txt");
    let text: String = (0..40)
        .map(|i| {
            format!(
                "Note {i}: the old lighthouse stood at the edge of the cliff, and every night \
                 its keeper climbed the narrow stairs to light lamp number {i}.\n"
            )
        })
        .collect();
    std::fs::write(&prompts, text).unwrap();
    let run = |out: &std::path::Path| {
        let mut c = Command::new(bin);
        c.args(["profile", "--metric", "shannon", "--metric", "renyi:2"])
            .arg("--text-file")
            .arg(&prompts)
            .arg("--out")
            .arg(out)
            .env("ENTROSCOPE_PROGRESS", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };
    let full = dir.join("full.csv");
    assert!(run(&full).status().unwrap().success());

    let out = dir.join("resumed.csv");
    let items = dir.join("resumed.csv.items");
    let kept = || {
        std::fs::read_dir(&items)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
                    .map(|e| e.path())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    crate::common::kill_when(&mut run(&out), || kept().len() >= 5);
    let before = kept();
    // (the run creates its output up front, to fail early when it cannot be written)
    let written = std::fs::metadata(&out).map_or(0, |m| m.len());
    assert_eq!(written, 0, "the killed run wrote its table");
    assert!(
        (5..40).contains(&before.len()),
        "{} items kept",
        before.len()
    );
    // one kept item cut short, as a kill inside a write outside our rename would leave it
    let cut = &before[0];
    let bytes = std::fs::read(cut).unwrap();
    std::fs::write(cut, &bytes[..bytes.len() / 2]).unwrap();

    let resumed = run(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    assert_eq!(
        std::fs::read(&full).unwrap(),
        std::fs::read(&out).unwrap(),
        "the resumed table differs from the uninterrupted one"
    );
    assert!(!items.exists());
    std::fs::remove_dir_all(&dir).ok();
}
