//! `LabelEncoder` of `ai.onnx.ml` (opset 2 to 4): maps each input value to the value its key has,
//! or to the default. Isolation forests exported by skl2onnx use it to turn leaf ids into path
//! lengths.

use std::collections::HashMap;

use super::attributes::{Attributes, TensorValues};

/// A float key as a hashable value: -0.0 is 0.0 and every NaN is one NaN.
fn float_key(x: f32) -> u32 {
    if x.is_nan() {
        f32::NAN.to_bits()
    } else if x == 0.0 {
        0
    } else {
        x.to_bits()
    }
}

/// The keys, each with the index of its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Keys {
    Int64(HashMap<i64, usize>),
    Float(HashMap<u32, usize>),
    String(HashMap<String, usize>),
}

/// The values, and the default for a value without key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    Int64(Vec<i64>, i64),
    Float(Vec<f32>, f32),
    String(Vec<String>, String),
}

/// A parsed `LabelEncoder`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LabelEncoder {
    pub(crate) keys: Keys,
    pub(crate) values: Values,
}

impl LabelEncoder {
    /// Reads a `LabelEncoder` node (`keys_*`/`values_*`/`default_*` of opset 2 and 3, or the
    /// `keys_tensor`/`values_tensor`/`default_tensor` of opset 4).
    ///
    /// # Errors
    /// A message naming the node and the attribute: the opset-1 form (`classes_strings`, not
    /// supported), keys or values missing or given twice, lengths that disagree, a default of the
    /// wrong type.
    pub(crate) fn parse(attributes: &Attributes<'_>) -> Result<Self, String> {
        if attributes.has("classes_strings") {
            return Err(attributes.error(
                "classes_strings",
                "the opset-1 form of LabelEncoder is not supported; export with ai.onnx.ml opset 2 or later",
            ));
        }
        let keys = one_of(attributes, "keys")?;
        let values = one_of(attributes, "values")?;
        let (keys_name, keys) = keys;
        let (values_name, values) = values;
        let (count, count_values) = (len(&keys), len(&values));
        if count != count_values {
            return Err(attributes.error(
                &values_name,
                format!("{count_values} values for {count} keys (in {keys_name})"),
            ));
        }
        let keys = match keys {
            TensorValues::Int64(k) => Keys::Int64(k.into_iter().enumerate().map(|(i, k)| (k, i)).collect()),
            TensorValues::Float(k) => Keys::Float(
                k.into_iter()
                    .enumerate()
                    .map(|(i, k)| (float_key(k as f32), i))
                    .collect(),
            ),
            TensorValues::String(k) => Keys::String(k.into_iter().enumerate().map(|(i, k)| (k, i)).collect()),
        };
        let default = attributes.tensor("default_tensor")?;
        let wrong_default = || attributes.error("default_tensor", "not of the values' type");
        let values = match values {
            TensorValues::Int64(v) => {
                let d = match default {
                    Some(TensorValues::Int64(d)) => *d.first().ok_or_else(wrong_default)?,
                    Some(_) => return Err(wrong_default()),
                    None => attributes.int("default_int64").unwrap_or(-1),
                };
                Values::Int64(v, d)
            }
            TensorValues::Float(v) => {
                let d = match default {
                    Some(TensorValues::Float(d)) => *d.first().ok_or_else(wrong_default)? as f32,
                    Some(_) => return Err(wrong_default()),
                    None => attributes.float("default_float").unwrap_or(-0.0),
                };
                Values::Float(v.into_iter().map(|v| v as f32).collect(), d)
            }
            TensorValues::String(v) => {
                let d = match default {
                    Some(TensorValues::String(d)) => d.into_iter().next().ok_or_else(wrong_default)?,
                    Some(_) => return Err(wrong_default()),
                    None => attributes
                        .string("default_string")?
                        .unwrap_or_else(|| "_Unused".to_string()),
                };
                Values::String(v, d)
            }
        };
        Ok(LabelEncoder { keys, values })
    }

    /// The index of `key`'s value, if it has one.
    pub(crate) fn index_of_int(&self, key: i64) -> Option<usize> {
        match &self.keys {
            Keys::Int64(map) => map.get(&key).copied(),
            _ => None,
        }
    }

    /// The index of `key`'s value, if it has one.
    pub(crate) fn index_of_float(&self, key: f32) -> Option<usize> {
        match &self.keys {
            Keys::Float(map) => map.get(&float_key(key)).copied(),
            _ => None,
        }
    }

    /// The index of `key`'s value, if it has one.
    pub(crate) fn index_of_string(&self, key: &str) -> Option<usize> {
        match &self.keys {
            Keys::String(map) => map.get(key).copied(),
            _ => None,
        }
    }
}

fn len(values: &TensorValues) -> usize {
    match values {
        TensorValues::Int64(v) => v.len(),
        TensorValues::Float(v) => v.len(),
        TensorValues::String(v) => v.len(),
    }
}

/// The one attribute of `<what>_tensor`, `<what>_int64s`, `<what>_floats`, `<what>_strings` given.
fn one_of(attributes: &Attributes<'_>, what: &str) -> Result<(String, TensorValues), String> {
    let mut found: Vec<(String, TensorValues)> = Vec::new();
    let name = format!("{what}_tensor");
    if let Some(t) = attributes.tensor(&name)? {
        found.push((name, t));
    }
    let name = format!("{what}_int64s");
    if let Some(v) = attributes.ints(&name) {
        found.push((name, TensorValues::Int64(v.to_vec())));
    }
    let name = format!("{what}_floats");
    if let Some(v) = attributes.reals(&name)? {
        found.push((name, TensorValues::Float(v)));
    }
    let name = format!("{what}_strings");
    if let Some(v) = attributes.strings(&name)? {
        found.push((name, TensorValues::String(v)));
    }
    match found.len() {
        1 => Ok(found.pop().expect("one")),
        0 => Err(attributes.error(
            &format!("{what}_int64s"),
            format!("missing: one of {what}_int64s, {what}_floats, {what}_strings or {what}_tensor is needed"),
        )),
        _ => Err(attributes.error(&found[1].0, format!("given with {}: only one of them", found[0].0))),
    }
}
