//! Statistics over profiles and texts: kNN classification with cross-validation, ROC AUC, and
//! the text metrics (BLEU, ROUGE-L) of the decoding studies.

pub mod knn;
pub mod roc;
pub mod summary;
pub mod text;

pub use roc::{roc_auc, roc_auc_ovr, roc_curve, roc_curve_ovr, OvrAuc, RocCurve};
