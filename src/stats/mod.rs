//! Statistics over profiles and texts: kNN classification with cross-validation ([`knn`]), ROC
//! curves and AUC ([`roc`]), the text metrics BLEU / ROUGE-L / Self-BLEU ([`text`]), and the one
//! copy of the plain summaries (mean ± std, quantiles; [`summary`]).
pub mod knn;
pub mod roc;
pub mod summary;
pub mod text;

pub use roc::{roc_auc, roc_auc_ovr, roc_curve, roc_curve_ovr, OvrAuc, RocCurve};
