//! Typed, path-aware reading of a JSON options object. Every mistake becomes
//! `EngineError::InvalidOption` naming the dotted field path and what is expected.

use crate::error::{EngineError, EngineResult};
use serde_json::{Map, Value};

/// A view of one options object at a dotted path (`""` for the root).
#[derive(Debug, Clone, Copy)]
pub struct OptionReader<'a> {
    path: &'a str,
    map: Option<&'a Map<String, Value>>,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> OptionReader<'a> {
    /// Read `value` (an object, `null` or absent) found at `path`.
    pub fn new(path: &'a str, value: Option<&'a Value>) -> EngineResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Self { path, map: None }),
            Some(Value::Object(map)) => Ok(Self {
                path,
                map: Some(map),
            }),
            Some(other) => Err(EngineError::option(
                display_path(path),
                format!("expected an object, got {}", kind(other)),
            )),
        }
    }

    /// Reject keys that are not in `known`, listing the accepted ones.
    pub fn deny_unknown(&self, known: &[&str]) -> EngineResult<()> {
        if let Some(map) = self.map {
            if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
                return Err(EngineError::option(
                    self.child_path(k),
                    format!("unknown option; accepted here: {}", known.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// The dotted path of `key` under this object.
    pub fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The raw value under `key`, `None` when absent or `null`.
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map.unwrap_or(&EMPTY).get(key).filter(|v| !v.is_null())
    }

    /// An integer in `min..=max`, or `None` when absent.
    pub fn int(&self, key: &str, min: i64, max: i64) -> EngineResult<Option<i64>> {
        let Some(v) = self.raw(key) else {
            return Ok(None);
        };
        let n = v
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.is_finite())
            .map(|f| f as i64)
            .ok_or_else(|| {
                EngineError::option(
                    self.child_path(key),
                    format!("expected an integer, got {}", kind(v)),
                )
            })?;
        if n < min || n > max {
            return Err(EngineError::option(
                self.child_path(key),
                format!("expected an integer from {min} to {max}, got {n}"),
            ));
        }
        Ok(Some(n))
    }

    /// A number in `min..=max`, or `None` when absent.
    pub fn number(&self, key: &str, min: f64, max: f64) -> EngineResult<Option<f64>> {
        let Some(v) = self.raw(key) else {
            return Ok(None);
        };
        let n = v.as_f64().filter(|f| f.is_finite()).ok_or_else(|| {
            EngineError::option(
                self.child_path(key),
                format!("expected a number, got {}", kind(v)),
            )
        })?;
        if n < min || n > max {
            return Err(EngineError::option(
                self.child_path(key),
                format!("expected a number from {min} to {max}, got {n}"),
            ));
        }
        Ok(Some(n))
    }

    /// A boolean, or `None` when absent.
    pub fn bool(&self, key: &str) -> EngineResult<Option<bool>> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(EngineError::option(
                self.child_path(key),
                format!("expected true or false, got {}", kind(v)),
            )),
        }
    }

    /// A non-empty string, or `None` when absent.
    pub fn string(&self, key: &str) -> EngineResult<Option<String>> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(EngineError::option(
                self.child_path(key),
                "expected a non-empty string",
            )),
            Some(v) => Err(EngineError::option(
                self.child_path(key),
                format!("expected a string, got {}", kind(v)),
            )),
        }
    }

    /// An array of integers in `min..=max`, or `None` when absent.
    pub fn int_list(&self, key: &str, min: i64, max: i64) -> EngineResult<Option<Vec<i64>>> {
        let Some(v) = self.raw(key) else {
            return Ok(None);
        };
        let arr = v.as_array().ok_or_else(|| {
            EngineError::option(
                self.child_path(key),
                format!("expected an array of integers, got {}", kind(v)),
            )
        })?;
        let path = self.child_path(key);
        let mut out = Vec::with_capacity(arr.len());
        for (i, item) in arr.iter().enumerate() {
            let n = item
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.is_finite())
                .map(|f| f as i64)
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    EngineError::option(
                        format!("{path}[{i}]"),
                        format!("expected an integer from {min} to {max}, got {item}"),
                    )
                })?;
            out.push(n);
        }
        Ok(Some(out))
    }

    /// A nested options object under `key` (absent reads as empty).
    pub fn object(&self, key: &str, path_buf: &'a mut String) -> EngineResult<OptionReader<'a>> {
        *path_buf = self.child_path(key);
        OptionReader::new(path_buf.as_str(), self.raw(key))
    }

    /// The keys present in this object.
    pub fn keys(&self) -> Vec<&'a str> {
        self.map
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// This object's dotted path.
    pub fn path(&self) -> &'a str {
        self.path
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "options".to_string()
    } else {
        path.to_string()
    }
}

/// A short name of a JSON value's type for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_names_fields() {
        let v = json!({"a": 3, "b": "x", "c": {"d": 1.5}, "e": [1, 2]});
        let r = OptionReader::new("", Some(&v)).unwrap();
        assert_eq!(r.int("a", 0, 10).unwrap(), Some(3));
        assert_eq!(r.int("zz", 0, 10).unwrap(), None);
        let e = r.int("a", 5, 10).unwrap_err();
        assert_eq!(e.code(), "E_INVALID_OPTION");
        assert!(e.to_string().contains("`a`"), "{e}");
        let e = r.int("b", 0, 1).unwrap_err();
        assert!(e.to_string().contains("expected an integer, got a string"));
        let mut p = String::new();
        let c = r.object("c", &mut p).unwrap();
        let e = c.int("d", 0, 5).unwrap_err();
        assert!(e.to_string().contains("`c.d`"), "{e}");
        assert_eq!(c.number("d", 0.0, 2.0).unwrap(), Some(1.5));
        assert_eq!(r.int_list("e", 0, 5).unwrap(), Some(vec![1, 2]));
        let e = r.deny_unknown(&["a", "b", "c"]).unwrap_err();
        assert!(e.to_string().contains("`e`"));
        assert!(OptionReader::new("x", Some(&json!(3))).is_err());
    }
}
