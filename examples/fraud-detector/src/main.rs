//! A real-time fraud detector: transactions in, per-card windowed features, model score, alerts out, live alerts in a browser page.
//!
//! Not built yet: it needs the DSL, state stores and streams-ml. Until then `scripts/demo` runs
//! the smallest end-to-end path instead.

fn main() {
    eprintln!("fraud-detector is not built yet; run scripts/demo for the end-to-end demo that exists today");
    std::process::exit(2);
}
