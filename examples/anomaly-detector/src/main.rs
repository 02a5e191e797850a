//! An anomaly detector for sensor streams.
//!
//! Not built yet: it needs the DSL, state stores and streams-ml. Until then `scripts/demo` runs
//! the smallest end-to-end path instead.

fn main() {
    eprintln!("anomaly-detector is not built yet; run scripts/demo for the end-to-end demo that exists today");
    std::process::exit(2);
}
