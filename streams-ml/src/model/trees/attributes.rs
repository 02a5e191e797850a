//! Reading an ONNX node's attributes, with errors that name the node and the attribute.

use tract_onnx::pb::{AttributeProto, NodeProto, TensorProto};

/// ONNX `TensorProto` data types this module reads.
const FLOAT: i32 = 1;
const INT64: i32 = 7;
const STRING: i32 = 8;
const DOUBLE: i32 = 11;

/// A node's attributes, and the node's identity for error messages.
pub(crate) struct Attributes<'a> {
    node: &'a NodeProto,
}

/// The values of a tensor attribute (`*_as_tensor`, `keys_tensor`, …), by element type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TensorValues {
    Float(Vec<f64>),
    Int64(Vec<i64>),
    String(Vec<String>),
}

impl<'a> Attributes<'a> {
    pub(crate) fn new(node: &'a NodeProto) -> Self {
        Attributes { node }
    }

    /// `<op> node "<name>"`, as messages start.
    pub(crate) fn what(&self) -> String {
        let name = if self.node.name.is_empty() {
            self.node.output.first().map(String::as_str).unwrap_or("")
        } else {
            self.node.name.as_str()
        };
        format!("{} node {name:?}", self.node.op_type)
    }

    /// An error about attribute `attribute`.
    pub(crate) fn error(&self, attribute: &str, message: impl std::fmt::Display) -> String {
        format!("{}: attribute {attribute}: {message}", self.what())
    }

    fn find(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    /// Whether the node has attribute `name`.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// An integer list; `None` when absent.
    pub(crate) fn ints(&self, name: &str) -> Option<&'a [i64]> {
        self.find(name).map(|a| a.ints.as_slice())
    }

    /// An integer list that must be there.
    pub(crate) fn required_ints(&self, name: &str) -> Result<&'a [i64], String> {
        self.ints(name).ok_or_else(|| self.error(name, "missing"))
    }

    /// An integer; `None` when absent.
    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        self.find(name).map(|a| a.i)
    }

    /// A float; `None` when absent.
    pub(crate) fn float(&self, name: &str) -> Option<f32> {
        self.find(name).map(|a| a.f)
    }

    /// A string; `None` when absent.
    pub(crate) fn string(&self, name: &str) -> Result<Option<String>, String> {
        self.find(name)
            .map(|a| String::from_utf8(a.s.clone()).map_err(|_| self.error(name, "not UTF-8")))
            .transpose()
    }

    /// A string list; `None` when absent.
    pub(crate) fn strings(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        self.find(name)
            .map(|a| {
                a.strings
                    .iter()
                    .map(|s| String::from_utf8(s.clone()).map_err(|_| self.error(name, "not UTF-8")))
                    .collect()
            })
            .transpose()
    }

    /// A list of reals given either as floats (`name`) or as a double tensor (`name_as_tensor`,
    /// opset 3); `None` when neither is there. Giving both is an error.
    pub(crate) fn reals(&self, name: &str) -> Result<Option<Vec<f64>>, String> {
        let tensor_name = format!("{name}_as_tensor");
        match (self.find(name), self.find(&tensor_name)) {
            (Some(_), Some(_)) => Err(self.error(name, format!("given twice, also as {tensor_name}"))),
            (Some(a), None) => Ok(Some(a.floats.iter().map(|&f| f64::from(f)).collect())),
            (None, Some(a)) => {
                let Some(tensor) = &a.t else {
                    return Err(self.error(&tensor_name, "not a tensor"));
                };
                match self.tensor_values(&tensor_name, tensor)? {
                    TensorValues::Float(values) => Ok(Some(values)),
                    _ => Err(self.error(&tensor_name, "not a float or double tensor")),
                }
            }
            (None, None) => Ok(None),
        }
    }

    /// A tensor attribute's values; `None` when absent.
    pub(crate) fn tensor(&self, name: &str) -> Result<Option<TensorValues>, String> {
        match self.find(name) {
            None => Ok(None),
            Some(a) => match &a.t {
                Some(tensor) => self.tensor_values(name, tensor).map(Some),
                None => Err(self.error(name, "not a tensor")),
            },
        }
    }

    fn tensor_values(&self, name: &str, tensor: &TensorProto) -> Result<TensorValues, String> {
        let raw = &tensor.raw_data;
        let chunks = |width: usize| -> Result<std::slice::ChunksExact<'_, u8>, String> {
            if !raw.len().is_multiple_of(width) {
                return Err(self.error(
                    name,
                    format!("{} raw bytes are not a whole number of values", raw.len()),
                ));
            }
            Ok(raw.chunks_exact(width))
        };
        match tensor.data_type {
            FLOAT if raw.is_empty() => Ok(TensorValues::Float(
                tensor.float_data.iter().map(|&f| f64::from(f)).collect(),
            )),
            FLOAT => Ok(TensorValues::Float(
                chunks(4)?
                    .map(|c| f64::from(f32::from_le_bytes(c.try_into().expect("4 bytes"))))
                    .collect(),
            )),
            DOUBLE if raw.is_empty() => Ok(TensorValues::Float(tensor.double_data.clone())),
            DOUBLE => Ok(TensorValues::Float(
                chunks(8)?
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect(),
            )),
            INT64 if raw.is_empty() => Ok(TensorValues::Int64(tensor.int64_data.clone())),
            INT64 => Ok(TensorValues::Int64(
                chunks(8)?
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect(),
            )),
            STRING => tensor
                .string_data
                .iter()
                .map(|s| String::from_utf8(s.clone()).map_err(|_| self.error(name, "not UTF-8")))
                .collect::<Result<_, _>>()
                .map(TensorValues::String),
            other => Err(self.error(
                name,
                format!("tensor of element type {other} (float, double, int64 or string expected)"),
            )),
        }
    }
}
