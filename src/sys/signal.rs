//! SIGINT and SIGTERM stop the run gracefully: workers finish their in-flight I/O, the points
//! measured so far are written, temporary files are removed, and the process exits 130. A
//! second signal ends the process at once (exit 130 for SIGINT, 143 for SIGTERM).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Install the handlers; returns the flag they set.
pub fn install() -> std::io::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Order matters: the first signal sets the flag; the second finds it set and exits.
        flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&stop))?;
        flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
}
