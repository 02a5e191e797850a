//! The harness's results: per-run figures, their medians per case and system, the markdown table
//! (printed, and written between markers into `docs/benchmarks.md`) and the JSON the chart is drawn
//! from (`scripts/bench_chart.py`).

use serde::Serialize;

use crate::measure::median;

/// The two systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum System {
    /// This library (`streams-bench`).
    Ours,
    /// Kafka Streams (`benches/kstreams-java`).
    KafkaStreams,
}

impl System {
    /// The name used in tables and logs.
    pub fn label(self) -> &'static str {
        match self {
            System::Ours => "streams",
            System::KafkaStreams => "Kafka Streams",
        }
    }
}

/// The figures of one run; `None` for what the run does not measure.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    /// Records/s (drain of the backlog, restore, or the test driver).
    pub throughput: Option<f64>,
    /// End-to-end latency at the offered load, median, ms.
    pub p50_ms: Option<f64>,
    /// End-to-end latency at the offered load, 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Peak resident memory of the processing process, MB (10^6 bytes).
    pub rss_mb: Option<f64>,
    /// CPU seconds (user + system) of the processing process.
    pub cpu_s: Option<f64>,
    /// Seconds from spawning the process to its first output record (or, for restore, to running).
    pub startup_s: Option<f64>,
}

impl Figures {
    /// The median of every figure over `runs` (each figure over the runs that have it).
    pub fn median_of(runs: &[Figures]) -> Figures {
        Figures {
            throughput: median(runs.iter().map(|r| r.throughput)),
            p50_ms: median(runs.iter().map(|r| r.p50_ms)),
            p99_ms: median(runs.iter().map(|r| r.p99_ms)),
            rss_mb: median(runs.iter().map(|r| r.rss_mb)),
            cpu_s: median(runs.iter().map(|r| r.cpu_s)),
            startup_s: median(runs.iter().map(|r| r.startup_s)),
        }
    }
}

/// One case's result: medians per system, and how the outputs were checked.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case name, e.g. `windowed-count`.
    pub case: String,
    /// What the throughput counts (always records/s).
    pub unit: &'static str,
    /// Our medians.
    pub ours: Figures,
    /// Kafka Streams' medians; `None` for cases we run alone.
    pub kafka_streams: Option<Figures>,
    /// The offered load of the latency runs, records/s (`None`: not measured).
    pub offered_rate: Option<f64>,
    /// How the outputs were checked to agree.
    pub check: String,
    /// Every run's figures, in the order run.
    pub runs: Vec<(System, Figures)>,
}

/// A whole run of the harness.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The day, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// The machine (see [`crate::measure::machine`]).
    pub machine: String,
    /// The command that produced it.
    pub command: String,
    /// Versions: Kafka Streams, Java, the broker.
    pub versions: String,
    /// The input's shape.
    pub workload: serde_json::Value,
    /// Runs per system and case.
    pub pairs: usize,
    /// The cases, in the order run.
    pub cases: Vec<CaseResult>,
}

/// Markers of the harness's section in `docs/benchmarks.md`.
pub const BEGIN: &str = "<!-- bench:side-by-side:begin -->";
/// See [`BEGIN`].
pub const END: &str = "<!-- bench:side-by-side:end -->";

fn rate(value: Option<f64>) -> String {
    match value {
        None => "–".to_string(),
        Some(v) if v >= 1e6 => format!("{:.2}M", v / 1e6),
        Some(v) if v >= 1e4 => format!("{:.0}k", v / 1e3),
        Some(v) if v >= 1e3 => format!("{:.1}k", v / 1e3),
        Some(v) => format!("{v:.0}"),
    }
}

fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{v:.decimals$}"))
}

fn pair(ours: Option<f64>, theirs: Option<f64>, decimals: usize) -> String {
    match theirs {
        None => number(ours, decimals),
        Some(_) => format!("{} / {}", number(ours, decimals), number(theirs, decimals)),
    }
}

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_string(),
    }
}

impl Report {
    /// Our throughput on the passthrough ceiling, if it was run.
    fn ceiling(&self) -> Option<f64> {
        self.cases
            .iter()
            .find(|c| c.case == "passthrough-ceiling")
            .and_then(|c| c.ours.throughput)
    }

    fn stateless(&self) -> Option<f64> {
        self.cases
            .iter()
            .find(|c| c.case == "stateless")
            .and_then(|c| c.ours.throughput)
    }

    /// The markdown table of medians, with its notes.
    pub fn table(&self) -> String {
        let ceiling = self.ceiling();
        let mut out = String::new();
        out.push_str(
            "| case | records/s: streams | Kafka Streams | streams / KS | of the ceiling: streams / KS \
             | p50 ms: streams / KS | p99 ms: streams / KS | peak RSS MB: streams / KS | CPU s: streams / KS \
             | start-up s: streams / KS |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for case in &self.cases {
            let theirs = case.kafka_streams.as_ref();
            let get = |f: fn(&Figures) -> Option<f64>| theirs.and_then(f);
            let of_ceiling = |v: Option<f64>| match (v, ceiling) {
                (Some(v), Some(c)) if c > 0.0 && case.case != "restore" && case.case != "test-driver" => {
                    Some(100.0 * v / c)
                }
                _ => None,
            };
            let ceiling_cell = match (of_ceiling(case.ours.throughput), of_ceiling(get(|f| f.throughput))) {
                (Some(a), Some(b)) => format!("{a:.0}% / {b:.0}%"),
                (Some(a), None) => format!("{a:.0}%"),
                _ => "–".to_string(),
            };
            let throughput_ratio = if case.case == "fraud-score" {
                match (case.ours.throughput, self.stateless()) {
                    (Some(a), Some(b)) if b > 0.0 => format!("{:.0}% of stateless", 100.0 * a / b),
                    _ => "–".to_string(),
                }
            } else {
                ratio(case.ours.throughput, get(|f| f.throughput))
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                case.case,
                rate(case.ours.throughput),
                rate(get(|f| f.throughput)),
                throughput_ratio,
                ceiling_cell,
                pair(case.ours.p50_ms, get(|f| f.p50_ms), 0),
                pair(case.ours.p99_ms, get(|f| f.p99_ms), 0),
                pair(case.ours.rss_mb, get(|f| f.rss_mb), 0),
                pair(case.ours.cpu_s, get(|f| f.cpu_s), 1),
                pair(case.ours.startup_s, get(|f| f.startup_s), 2),
            ));
        }
        out
    }

    /// The list of how each case's outputs were checked and at which load latency was measured.
    pub fn checks(&self) -> String {
        let mut out = String::new();
        for case in &self.cases {
            let load = case.offered_rate.map_or_else(String::new, |r| {
                format!("; latency at {} records/s offered", rate(Some(r)))
            });
            out.push_str(&format!("- `{}`: {}{load}\n", case.case, case.check));
        }
        out
    }

    /// The section written into `docs/benchmarks.md` between [`BEGIN`] and [`END`].
    pub fn docs_section(&self) -> String {
        format!(
            "{BEGIN}\nRun of {date} on {machine}; {versions}. Written by `{command}` from this run: \
             medians of {pairs} runs per system, run alternately. Workload: {workload}.\n\n{table}\n\
             Outputs checked before any figure was kept:\n\n{checks}\n\
             ![Side-by-side: throughput, p99 latency, peak RSS](img/side-by-side.png)\n{END}",
            date = self.date,
            machine = self.machine,
            versions = self.versions,
            command = self.command,
            pairs = self.pairs,
            workload = describe_workload(&self.workload),
            table = self.table(),
            checks = self.checks(),
        )
    }
}

fn describe_workload(workload: &serde_json::Value) -> String {
    workload
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| format!("{} {v}", k.replace('_', " ")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// `text` with the part between [`BEGIN`] and [`END`] (markers included) replaced by `section`.
///
/// # Errors
/// When the markers are missing or out of order.
pub fn replace_section(text: &str, section: &str) -> Result<String, String> {
    let begin = text.find(BEGIN).ok_or_else(|| format!("no {BEGIN} marker"))?;
    let end = text.find(END).ok_or_else(|| format!("no {END} marker"))?;
    if end < begin {
        return Err(format!("{END} comes before {BEGIN}"));
    }
    Ok(format!("{}{section}{}", &text[..begin], &text[end + END.len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(throughput: f64, p99: Option<f64>) -> Figures {
        Figures {
            throughput: Some(throughput),
            p50_ms: p99.map(|p| p / 2.0),
            p99_ms: p99,
            rss_mb: Some(50.0),
            cpu_s: Some(2.0),
            startup_s: Some(0.5),
        }
    }

    fn report() -> Report {
        let case = |name: &str, ours: f64, theirs: Option<f64>| CaseResult {
            case: name.to_string(),
            unit: "records/s",
            ours: figures(ours, Some(20.0)),
            kafka_streams: theirs.map(|t| figures(t, Some(80.0))),
            offered_rate: Some(100_000.0),
            check: "same digest".to_string(),
            runs: Vec::new(),
        };
        Report {
            date: "2026-11-27".to_string(),
            machine: "linux".to_string(),
            command: "scripts/bench".to_string(),
            versions: "Kafka Streams 4.3.1".to_string(),
            workload: serde_json::json!({"records": 1000}),
            pairs: 3,
            cases: vec![
                case("passthrough-ceiling", 800_000.0, None),
                case("stateless", 600_000.0, Some(200_000.0)),
                case("fraud-score", 60_000.0, None),
            ],
        }
    }

    #[test]
    fn the_table_gives_ratios_and_fractions_of_the_ceiling() {
        let table = report().table();
        let stateless = table.lines().find(|l| l.starts_with("| stateless")).unwrap();
        assert!(stateless.contains("| 600k | 200k | 3.00× | 75% / 25% |"), "{stateless}");
        assert!(stateless.contains("| 20 / 80 |"), "{stateless}");
        let fraud = table.lines().find(|l| l.starts_with("| fraud-score")).unwrap();
        assert!(fraud.contains("10% of stateless"), "{fraud}");
    }

    #[test]
    fn medians_are_taken_figure_by_figure() {
        let runs = [figures(1.0, None), figures(3.0, Some(10.0)), figures(2.0, Some(30.0))];
        let m = Figures::median_of(&runs);
        assert_eq!(m.throughput, Some(2.0));
        assert_eq!(m.p99_ms, Some(20.0));
    }

    #[test]
    fn the_docs_section_replaces_only_what_is_between_the_markers() {
        let text = format!("intro\n{BEGIN}\nold\n{END}\noutro\n");
        let new = replace_section(&text, &report().docs_section()).unwrap();
        assert!(new.starts_with("intro\n<!-- bench:side-by-side:begin -->\nRun of 2026-11-27"));
        assert!(new.ends_with(&format!("{END}\noutro\n")));
        assert!(!new.contains("old"));
        assert!(replace_section("no markers", "x").is_err());
    }
}
