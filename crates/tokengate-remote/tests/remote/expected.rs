//! Panics a test expects: their messages start with [`EXPECTED_PANIC`], and
//! the hook [`quiet_expected_panics`] installs keeps them off stderr. Shared
//! by the remote-call tests and the attribute tests.

/// Panic messages that start with this are expected by a test and not printed.
pub(crate) const EXPECTED_PANIC: &str = "tokengate-remote-test expected panic";

/// Installs (once per process) a panic hook that stays silent for panics whose
/// message starts with [`EXPECTED_PANIC`] and reports every other one.
pub(crate) fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&'static str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if !msg.is_some_and(|m| m.starts_with(EXPECTED_PANIC)) {
                default(info);
            }
        }));
    });
}
