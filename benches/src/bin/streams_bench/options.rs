//! The command line after the case name: `--name value`, `--name=value` and `--flag`, as the Java
//! jar reads it (`Options.java`); an unknown name is a usage error.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// A mistake on the command line: the binary prints it with the usage and exits with status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A usage error with this message.
pub fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// The options of one run.
#[derive(Debug, Default)]
pub struct Options {
    values: HashMap<String, String>,
}

impl Options {
    /// Reads `args`, accepting the options named in `known` (each with a value) and the switches
    /// in `flags`.
    pub fn parse(args: &[String], known: &[&str], flags: &[&str]) -> Result<Self, UsageError> {
        let mut values = HashMap::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(usage(format!("unexpected argument: {arg}")));
            };
            let (name, value) = match name.split_once('=') {
                Some((name, value)) => (name, value.to_string()),
                None if flags.contains(&name) => (name, "true".to_string()),
                None => {
                    let value = args.next().ok_or_else(|| usage(format!("--{name} needs a value")))?;
                    (name, value.clone())
                }
            };
            if !known.contains(&name) && !flags.contains(&name) {
                return Err(usage(format!("unknown option for this case: --{name}")));
            }
            values.insert(name.to_string(), value);
        }
        Ok(Options { values })
    }

    /// Whether `--name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The value of `--name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of `--name`, which must be given.
    pub fn required(&self, name: &str) -> Result<&str, UsageError> {
        self.get(name).ok_or_else(|| usage(format!("--{name} is required")))
    }

    /// The number given as `--name` (`_` separators allowed, as in `1_000_000`), if given.
    pub fn number<T: FromStr>(&self, name: &str) -> Result<Option<T>, UsageError> {
        self.get(name)
            .map(|value| {
                value
                    .replace('_', "")
                    .parse()
                    .map_err(|_| usage(format!("--{name} takes a whole number, not {value}")))
            })
            .transpose()
    }

    /// Whether the switch `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|value| value == "true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn values_flags_and_unknown_names() {
        let options = Options::parse(
            &args("--expected 1_000 --input=in --describe"),
            &["expected", "input"],
            &["describe"],
        )
        .unwrap();
        assert_eq!(options.number::<u64>("expected").unwrap(), Some(1_000));
        assert_eq!(options.get("input"), Some("in"));
        assert!(options.flag("describe"));
        assert!(options.required("output").is_err());
        assert!(Options::parse(&args("--nope 1"), &["expected"], &[]).is_err());
        assert!(Options::parse(&args("--expected"), &["expected"], &[]).is_err());
        assert!(Options::parse(&args("stray"), &["expected"], &[]).is_err());
        let bad = Options::parse(&args("--expected many"), &["expected"], &[]).unwrap();
        assert!(bad.number::<u64>("expected").is_err());
    }
}
