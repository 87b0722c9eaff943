//! Where a model runs and how its weights are stored: the device (CPU or a CUDA GPU) and the
//! weight dtype (f32, bf16, f16, or GGUF blocks kept quantized). Statistics are f32 whatever the
//! weight dtype: the residual stream a [`crate::Trace`] holds and every logit the lens reduces
//! are converted to f32 first.

use std::fmt;
use std::str::FromStr;

use candle_core::{DType, Device};

use crate::{Error, Result};

/// How weights are held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum WeightDtype {
    /// 32-bit floats (GGUF blocks dequantized): the reference precision.
    #[default]
    F32,
    /// bfloat16 weights and activations (attention softmax and norms accumulate in f32).
    Bf16,
    /// IEEE half weights and activations.
    F16,
    /// GGUF blocks kept as they are in the file: linear layers run as quantized matmuls
    /// (candle `QMatMul`), while embeddings, norms, the residual stream and the unembedding stay f32.
    Quantized,
}

impl WeightDtype {
    /// The dtype of activations (and of dense weights): f32 for [`WeightDtype::Quantized`].
    pub fn compute(self) -> DType {
        match self {
            WeightDtype::F32 | WeightDtype::Quantized => DType::F32,
            WeightDtype::Bf16 => DType::BF16,
            WeightDtype::F16 => DType::F16,
        }
    }
}

impl FromStr for WeightDtype {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "float32" => Ok(WeightDtype::F32),
            "bf16" | "bfloat16" => Ok(WeightDtype::Bf16),
            "f16" | "float16" | "half" => Ok(WeightDtype::F16),
            "quantized" | "q" | "gguf" => Ok(WeightDtype::Quantized),
            _ => Err(Error::invalid(
                "dtype",
                s,
                "`f32`, `bf16`, `f16` or `quantized` (GGUF blocks kept as they are)",
            )),
        }
    }
}

impl fmt::Display for WeightDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WeightDtype::F32 => "f32",
            WeightDtype::Bf16 => "bf16",
            WeightDtype::F16 => "f16",
            WeightDtype::Quantized => "quantized",
        })
    }
}

/// The device named by `cpu`, `cuda` (= `cuda:0`) or `cuda:N`. A CUDA device needs a build with
/// the `cuda` feature and a GPU; otherwise the error says so.
///
/// ```
/// use entroscope::model::parse_device;
/// assert!(parse_device("cpu")?.is_cpu());
/// assert!(parse_device("tpu").is_err());
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn parse_device(s: &str) -> Result<Device> {
    let s = s.trim().to_ascii_lowercase();
    if s == "cpu" {
        return Ok(Device::Cpu);
    }
    let ordinal = match s.as_str() {
        "cuda" | "gpu" => Some(0),
        _ => s
            .strip_prefix("cuda:")
            .and_then(|n| n.parse::<usize>().ok()),
    };
    let Some(ordinal) = ordinal else {
        return Err(Error::invalid("device", s, "`cpu`, `cuda` or `cuda:N`"));
    };
    if !cfg!(feature = "cuda") {
        return Err(Error::DeviceUnavailable {
            requested: s,
            detail: "this build has no CUDA support; rebuild with `--features cuda` (see `make \
                     check-cuda`) or use `--device cpu`"
                .into(),
        });
    }
    // Without a driver or a GPU, candle's error is the driver's (no panic); its backtrace, when
    // RUST_BACKTRACE is set, is noise in a one-line message.
    Device::new_cuda(ordinal).map_err(|e| {
        let e = match e {
            candle_core::Error::WithBacktrace { inner, .. } => *inner,
            e => e,
        };
        Error::DeviceUnavailable {
            requested: s,
            detail: format!(
                "{e}; check that `nvidia-smi` lists GPU {ordinal} (a CUDA 13 driver), or use \
                 `--device cpu`"
            ),
        }
    })
}

/// The short name of a device: `cpu` or `cuda:N`.
pub fn device_name(d: &Device) -> String {
    match d.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// How to load a model: device and weight dtype. The default is the CPU in f32.
///
/// ```no_run
/// use entroscope::prelude::*;
/// use entroscope::model::{LoadOptions, WeightDtype};
/// # fn main() -> entroscope::Result<()> {
/// let opts = LoadOptions::default().dtype(WeightDtype::Quantized);
/// let lm = Lm::load_with(&entroscope::model::default_model_path(), &opts)?;
/// assert_eq!(lm.dtype(), WeightDtype::Quantized);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Where weights live and work runs.
    pub device: Device,
    /// How weights are stored.
    pub dtype: WeightDtype,
    /// Whether a model that may not fit in memory is refused before loading.
    pub memory: super::memory::MemoryCheck,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            device: Device::Cpu,
            dtype: WeightDtype::F32,
            memory: Default::default(),
        }
    }
}

impl PartialEq for LoadOptions {
    fn eq(&self, other: &Self) -> bool {
        self.dtype == other.dtype
            && self.memory == other.memory
            && self.device.same_device(&other.device)
    }
}

impl LoadOptions {
    /// From the command-line spellings (`--device cpu|cuda[:N]`, `--dtype f32|bf16|f16|quantized`).
    pub fn parse(device: &str, dtype: &str) -> Result<Self> {
        Ok(Self {
            device: parse_device(device)?,
            dtype: dtype.parse()?,
            memory: Default::default(),
        })
    }

    /// These options with `memory` as the check before loading.
    pub fn memory(mut self, memory: super::memory::MemoryCheck) -> Self {
        self.memory = memory;
        self
    }

    /// These options on `device`.
    pub fn device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// These options with weights as `dtype`.
    pub fn dtype(mut self, dtype: WeightDtype) -> Self {
        self.dtype = dtype;
        self
    }
}
