//! The reductions of [`reduce_rows`](super::reduce_rows) and [`kl_rows`](super::kl_rows) as
//! tensor operations, for logits that live on a GPU: the device computes the per-row sums
//! (`m`, `S₀`, `S₁`, `S₂`, the Rényi sums, the target's logit and rank, the top-k) in f32, and only
//! those `[rows × a few]` columns come back; the host finishes every row with the same formulas
//! as the fused CPU kernels. Differences from the kernels are float rounding (f32 sums on the
//! device against f64 accumulators on the CPU), ~1e-6 relative.

use candle_core::{DType, Tensor, D};

use super::kernels::{RowSums, Scan};
use super::{finish_row, Order, Request, RowStats};
use crate::{Error, Result};

/// `[rows, vocab]` logits (any dtype, any device) → one [`RowStats`] per row; `targets`, if
/// given, holds one id per row. Same errors as [`reduce_rows`](super::reduce_rows).
pub fn reduce_rows_tensor(
    logits: &Tensor,
    req: &Request,
    targets: Option<&[u32]>,
) -> Result<Vec<RowStats>> {
    let z = logits.to_dtype(DType::F32)?;
    let (rows, vocab) = z.dims2()?;
    if vocab == 0 {
        return Err(Error::invalid(
            "logits",
            "[]",
            "a row of at least one logit",
        ));
    }
    if let Some(t) = targets {
        if t.len() != rows {
            return Err(Error::invalid(
                "targets",
                t.len(),
                format!("one target per row ({rows})"),
            ));
        }
        if let Some(&id) = t.iter().find(|&&i| i as usize >= vocab) {
            return Err(Error::TokenOutOfVocab { id, vocab });
        }
    }
    let dev = z.device().clone();
    let m = z.max_keepdim(D::Minus1)?;
    // d = z − m ≤ 0; masked logits (−inf) become f32::MIN so that e^d·d is 0, not NaN.
    let d = z.broadcast_sub(&m)?.maximum(f32::MIN)?;
    let e = d.exp()?;
    let mut cols = vec![
        m.clone(),
        z.ne(&z)?.to_dtype(DType::F32)?.sum_keepdim(D::Minus1)?, // NaNs
        z.eq(f64::NEG_INFINITY)?
            .to_dtype(DType::F32)?
            .sum_keepdim(D::Minus1)?,
        e.sum_keepdim(D::Minus1)?,
        (&e * &d)?.sum_keepdim(D::Minus1)?,
        e.sqr()?.sum_keepdim(D::Minus1)?,
    ];
    for r in &req.renyi {
        cols.push(match r.order {
            Order::General(a) => (&d * f64::from(a))?.exp()?.sum_keepdim(D::Minus1)?,
            Order::NearOne(b) => {
                (&e * ((&d * f64::from(b))?.exp()? - 1.0)?)?.sum_keepdim(D::Minus1)?
            }
            _ => m.zeros_like()?,
        });
    }
    if let Some(t) = targets {
        let idx = Tensor::new(t, &dev)?.unsqueeze(1)?;
        let zt = z.gather(&idx, 1)?;
        let above = z
            .broadcast_gt(&zt)?
            .to_dtype(DType::F32)?
            .sum_keepdim(D::Minus1)?;
        cols.push(zt);
        cols.push(above);
    }
    let cols = Tensor::cat(&cols, 1)?.to_vec2::<f32>()?;
    let top = top_k(&z, req.top_k.min(vocab))?;
    let n_extra = req.renyi.len();
    cols.into_iter()
        .enumerate()
        .map(|(i, c)| {
            let (zt, above) = match targets {
                Some(_) => (Some(c[6 + n_extra]), c[7 + n_extra] as usize),
                None => (None, 0),
            };
            let sums = RowSums {
                scan: Scan::from_parts(c[0], c[1] > 0.0, c[2] as usize, above),
                s: [f64::from(c[3]), f64::from(c[4]), f64::from(c[5])],
                extra: c[6..6 + n_extra].iter().map(|&x| f64::from(x)).collect(),
                top: top.get(i).cloned().unwrap_or_default(),
            };
            finish_row(vocab, req, targets.map(|t| t[i]), zt, sums)
        })
        .collect()
}

/// The `k` largest logits of every row as `(logit, id)`, largest first (ties: lower id), by `k`
/// rounds of arg-max and masking: only `[rows × k]` values leave the device.
fn top_k(z: &Tensor, k: usize) -> Result<Vec<Vec<(f32, u32)>>> {
    let rows = z.dim(0)?;
    if k == 0 {
        return Ok(vec![vec![]; rows]);
    }
    let vocab = z.dim(1)?;
    let ids = Tensor::arange(0u32, vocab as u32, z.device())?.unsqueeze(0)?;
    let (mut z, mut vals, mut idxs) = (z.clone(), vec![], vec![]);
    let masked = z.ones_like()?.affine(0.0, f64::NEG_INFINITY)?;
    for _ in 0..k {
        let i = z.argmax_keepdim(D::Minus1)?;
        vals.push(z.gather(&i, 1)?);
        z = ids.broadcast_eq(&i)?.where_cond(&masked, &z)?;
        idxs.push(i);
    }
    let vals = Tensor::cat(&vals, 1)?.to_vec2::<f32>()?;
    let idxs = Tensor::cat(&idxs, 1)?.to_vec2::<u32>()?;
    Ok(vals
        .into_iter()
        .zip(idxs)
        .map(|(v, i)| v.into_iter().zip(i).collect())
        .collect())
}

/// `KL(p_i ‖ q_i)` in nats for `[rows, vocab]` logits `p` and `q` (any device), computed from
/// log-softmaxes in f32; only the `[rows]` result leaves the device.
pub fn kl_rows_tensor(p: &Tensor, q: &Tensor) -> Result<Vec<f32>> {
    let lp = candle_nn::ops::log_softmax(&p.to_dtype(DType::F32)?, D::Minus1)?;
    let lq = candle_nn::ops::log_softmax(&q.to_dtype(DType::F32)?, D::Minus1)?;
    // 0·(−inf − x) is NaN: where p = 0 the term is 0.
    let diff = (&lp - &lq)?.maximum(f32::MIN)?.minimum(f32::MAX)?;
    let kl = (lp.exp()? * diff)?.sum(D::Minus1)?.to_vec1::<f32>()?;
    Ok(kl
        .into_iter()
        .map(|x| if x.is_nan() { x } else { x.max(0.0) })
        .collect())
}
