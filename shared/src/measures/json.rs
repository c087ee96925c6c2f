//! Non-finite floats in JSON. serde_json writes NaN and the infinities as `null` and refuses `null` for an `f64`, so
//! a diverged run would either lose its NaN or fail to read back. Fields that hold errors serialize through this
//! module instead: a finite value as a JSON number, a non-finite one as the string "NaN", "inf" or "-inf" (the
//! words the text tables print). Reading accepts a number, one of those strings (any spelling `f64::from_str`
//! accepts), and, for a plain `f64`, `null` as NaN: that is how files written before this module carry a lost value.
//!
//! Use with `#[serde(with = "crate::measures::json")]`, or [`opt`] / [`vec`] for `Option<f64>` / `Vec<f64>`.
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// A number, or the word for a non-finite value: "NaN", "inf", "-inf".
pub fn value(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::Value::from(v)
    } else {
        serde_json::Value::String(v.to_string())
    }
}

/// [`value`] of an optional number; `None` is `null`.
pub fn opt_value(v: Option<f64>) -> serde_json::Value {
    v.map_or(serde_json::Value::Null, value)
}

/// Serializes `v` as a number, or as "NaN", "inf" or "-inf".
pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        // Display spells NaN of either sign "NaN" and the infinities "inf" and "-inf".
        s.serialize_str(&v.to_string())
    }
}

/// Reads a number, a non-finite word, or `null` (as NaN).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_any(FloatVisitor)
}

struct FloatVisitor;

impl Visitor<'_> for FloatVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or one of \"NaN\", \"inf\", \"-inf\"")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<f64, E> {
        // Only the non-finite words: a number written as a string is a malformed file, not a value.
        match s.parse::<f64>() {
            Ok(v) if !v.is_finite() => Ok(v),
            _ => Err(E::invalid_value(de::Unexpected::Str(s), &self)),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
        Ok(f64::NAN)
    }
    fn visit_none<E: de::Error>(self) -> Result<f64, E> {
        Ok(f64::NAN)
    }
}

/// One `f64` through this module, so that containers of it can use serde's own impls.
struct Float(f64);

impl Serialize for Float {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Float {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize(d).map(Float)
    }
}

/// `Option<f64>`: `None` is `null`, a value as in the parent module. Pair with `#[serde(default)]`.
pub mod opt {
    use super::Float;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serializes `None` as `null`, a value as a number or a non-finite word.
    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        v.map(Float).serialize(s)
    }

    /// Reads `null` as `None`, anything else as the parent module does.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<Float>::deserialize(d)?.map(|f| f.0))
    }
}

/// `Vec<f64>`: each element as in the parent module.
pub mod vec {
    use super::Float;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes every element as a number or a non-finite word.
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| Float(*x)))
    }

    /// Reads every element as the parent module does.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Float>::deserialize(d)?.into_iter().map(|f| f.0).collect())
    }
}

/// `Vec<Vec<f64>>` (a matrix's rows): each element as in the parent module.
pub mod rows {
    use super::Float;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes every element as a number or a non-finite word.
    pub fn serialize<S: Serializer>(v: &[Vec<f64>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|row| row.iter().map(|x| Float(*x)).collect::<Vec<_>>()))
    }

    /// Reads every element as the parent module does.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
        let rows = Vec::<Vec<Float>>::deserialize(d)?;
        Ok(rows.into_iter().map(|r| r.into_iter().map(|f| f.0).collect()).collect())
    }
}
