//! The core library against hand derivations and reference numbers.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod decode;
mod device;
mod entropy_props;
mod frame_plot;
mod knn;
mod lens;
mod prompt_files;
mod score;
mod text_metrics;
