//! The command line of the examples' training-data binaries:
//!
//! ```text
//! <name> --rows N --seed S [<count flag> <value>]
//! ```
//!
//! Each writes CSV to stdout: a header of the feature names and `label`, then one row per
//! generated record, its features in order and its label (1 = positive, 0 = negative); and a
//! summary (rows, positives and their share, seed) to stderr. `--rows` defaults to 100 000,
//! `--seed` to 0; the count flag (`--cards`, `--sensors`) is the binary's own, optional. A closed
//! pipe (`| head`) is not an error.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `--rows`: how many rows to write.
    pub rows: u64,
    /// `--seed`: the generator's seed.
    pub seed: u64,
    /// The value of the binary's count flag, if given.
    pub count: Option<usize>,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            rows: 100_000,
            seed: 0,
            count: None,
        }
    }
}

/// One training-data binary: its name, its count flag and what its positive label means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cli {
    /// The binary's name, the prefix of its messages, e.g. `fraud-training-data`.
    pub name: &'static str,
    /// Its own optional count flag, e.g. `--cards`.
    pub count_flag: &'static str,
    /// The count's placeholder in the usage line, e.g. `C`.
    pub count_value: &'static str,
    /// How the summary calls the positive rows, e.g. `fraud` (as in "200 fraud").
    pub positive: &'static str,
}

impl Cli {
    /// A binary named `name` (`fraud-training-data`) with the count flag `count_flag` (`--cards`),
    /// whose value `count_value` (`C`) stands for in the usage line, calling the positive rows
    /// `positive` (`fraud`) in its summary.
    pub const fn new(
        name: &'static str,
        count_flag: &'static str,
        count_value: &'static str,
        positive: &'static str,
    ) -> Self {
        Self {
            name,
            count_flag,
            count_value,
            positive,
        }
    }

    /// The usage line.
    pub fn usage(&self) -> String {
        format!(
            "usage: {} --rows N --seed S [{} {}]",
            self.name, self.count_flag, self.count_value
        )
    }

    /// Parses the arguments (without the program name). `Err` holds the message to print before the
    /// usage line: empty for `-h` / `--help`.
    pub fn parse(&self, args: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            if flag == "-h" || flag == "--help" {
                return Err(String::new());
            }
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let bad = |e: std::num::ParseIntError| format!("{flag} {value}: {e}");
            match flag.as_str() {
                "--rows" => parsed.rows = value.parse().map_err(bad)?,
                "--seed" => parsed.seed = value.parse().map_err(bad)?,
                f if f == self.count_flag => parsed.count = Some(value.parse().map_err(bad)?),
                _ => return Err(format!("unknown argument {flag}")),
            }
        }
        Ok(parsed)
    }

    /// The whole binary: parses the process's arguments, writes `args.rows` rows of `rows(&args)`
    /// (an endless iterator of `(features, label)`) as CSV to stdout under a header of
    /// `feature_names` and `label`, and the summary to stderr. Exit code 2 on a bad command line,
    /// 1 on a write error.
    pub fn run<I, F>(&self, feature_names: &[&str], rows: impl FnOnce(&Args) -> I) -> ExitCode
    where
        I: Iterator<Item = (F, bool)>,
        F: IntoIterator<Item = f32>,
    {
        let args = match self.parse(std::env::args().skip(1)) {
            Ok(args) => args,
            Err(message) => {
                if !message.is_empty() {
                    eprintln!("{}: {message}", self.name);
                }
                eprintln!("{}", self.usage());
                return ExitCode::from(2);
            }
        };
        let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
        match write_csv(&mut out, feature_names, rows(&args).take(args.rows as usize)) {
            Ok(positives) => {
                let rate = if args.rows == 0 {
                    0.0
                } else {
                    positives as f64 / args.rows as f64
                };
                eprintln!(
                    "{}: {} rows, {positives} {} ({:.2}%), seed {}",
                    self.name,
                    args.rows,
                    self.positive,
                    100.0 * rate,
                    args.seed
                );
                ExitCode::SUCCESS
            }
            // A closed pipe (`| head`) is not an error.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: {e}", self.name);
                ExitCode::FAILURE
            }
        }
    }
}

/// Writes the header (`feature_names`, then `label`) and one line per row of `rows` (its features,
/// then its label as `1` or `0`) to `out`, and flushes it. Returns the number of positive rows.
///
/// A feature is written with `f32`'s `Display`: the shortest text that parses back to the same
/// `f32`.
pub fn write_csv<I, F>(out: &mut impl Write, feature_names: &[&str], rows: I) -> io::Result<u64>
where
    I: Iterator<Item = (F, bool)>,
    F: IntoIterator<Item = f32>,
{
    writeln!(out, "{},label", feature_names.join(","))?;
    let mut positives = 0;
    for (features, label) in rows {
        for value in features {
            write!(out, "{value},")?;
        }
        writeln!(out, "{}", u8::from(label))?;
        positives += u64::from(label);
    }
    out.flush()?;
    Ok(positives)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLI: Cli = Cli::new("test-training-data", "--things", "T", "odd");

    fn parse(args: &[&str]) -> Result<Args, String> {
        CLI.parse(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn parses_flags_in_any_order_with_defaults() {
        assert_eq!(parse(&[]), Ok(Args::default()));
        assert_eq!(
            parse(&["--seed", "7", "--things", "3", "--rows", "10"]),
            Ok(Args {
                rows: 10,
                seed: 7,
                count: Some(3)
            })
        );
        assert_eq!(CLI.usage(), "usage: test-training-data --rows N --seed S [--things T]");
    }

    #[test]
    fn rejects_bad_arguments() {
        assert_eq!(parse(&["--help"]), Err(String::new()));
        assert_eq!(parse(&["--rows", "1", "-h"]), Err(String::new()));
        assert_eq!(parse(&["--rows"]), Err("--rows needs a value".to_string()));
        assert_eq!(
            parse(&["--seed", "x"]),
            Err("--seed x: invalid digit found in string".to_string())
        );
        assert_eq!(parse(&["--cards", "1"]), Err("unknown argument --cards".to_string()));
    }

    #[test]
    fn writes_header_rows_and_counts_positives() {
        let rows = (0..3u8).map(|i| ([f32::from(i), 0.1, 1e-7], i % 2 == 1));
        let mut out = Vec::new();
        let positives = write_csv(&mut out, &["a", "b", "c"], rows).unwrap();
        assert_eq!(positives, 1);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,b,c,label\n0,0.1,0.0000001,0\n1,0.1,0.0000001,1\n2,0.1,0.0000001,0\n"
        );
    }
}
