//! Conversions between tensors and plain vectors, and the tch kinds of a precision.
use crate::error::Result;
use forgebench_shared::experiment::Precision;
use tch::{Kind, Tensor};

/// The floating kind of a precision.
pub fn kind(p: Precision) -> Kind {
    match p {
        Precision::F32 => Kind::Float,
        Precision::F64 => Kind::Double,
    }
}

/// A 1-D f32 tensor on `device` holding `v`.
pub fn from_f32(v: &[f32], device: tch::Device) -> Tensor {
    Tensor::from_slice(v).to_device(device)
}

/// The values of any float tensor as f32 (flattened, on the CPU).
pub fn to_f32(t: &Tensor) -> Result<Vec<f32>> {
    let flat = t
        .f_to_kind(Kind::Float)?
        .f_to_device(tch::Device::Cpu)?
        .f_contiguous()?
        .f_view(-1)?;
    Ok(Vec::<f32>::try_from(&flat)?)
}

/// The values of any float tensor as f64 (flattened, on the CPU).
pub fn to_f64(t: &Tensor) -> Result<Vec<f64>> {
    let flat = t
        .f_to_kind(Kind::Double)?
        .f_to_device(tch::Device::Cpu)?
        .f_contiguous()?
        .f_view(-1)?;
    Ok(Vec::<f64>::try_from(&flat)?)
}
