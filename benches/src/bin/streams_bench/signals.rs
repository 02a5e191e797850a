//! SIGTERM and SIGINT end a run gracefully: the handler only raises a flag, which the waiting loops
//! check; the run then closes what it runs and prints its JSON line as for any other stop.

use std::sync::atomic::{AtomicBool, Ordering};

static RECEIVED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    // Async-signal-safe: one atomic store.
    RECEIVED.store(true, Ordering::SeqCst);
}

/// Installs the handler for SIGTERM and SIGINT.
pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
    }
}

/// Whether SIGTERM or SIGINT has arrived.
pub fn received() -> bool {
    RECEIVED.load(Ordering::SeqCst)
}
