//! The paper reproductions: protocols, tables and figures.

#[path = "../common/mod.rs"]
mod common;

mod edt_study;
mod end_study;
mod entropy_lens;
mod uncertainty;
