//! A fn that never returns cannot return `!` (its token must resolve to a
//! value): it returns `()` or `Infallible` instead, with its body unchanged.
#![deny(warnings)]

use std::convert::Infallible;

use tokengate::{TaskToken, task_token_guard};

#[task_token_guard]
fn serve(port: u16) -> Infallible {
    loop {
        std::thread::park();
        let _ = port;
    }
}

#[task_token_guard(sticky_anchor = "spin")]
fn spin(n: u8) {
    loop {
        std::thread::park();
        let _ = n;
    }
}

#[task_token_guard(process_pool = true)]
fn watch(path: String) {
    loop {
        std::thread::park();
        let _ = &path;
    }
}

fn main() {
    let token: TaskToken<Infallible> = serve(80);
    assert!(no_coordinator(token));
    assert!(no_coordinator(spin(1)));
    assert!(no_coordinator(watch(String::new())));
}

/// Whether the call failed at once for want of a coordinator, as every call
/// here does.
fn no_coordinator<T>(token: TaskToken<T>) -> bool {
    token.wait().is_err_and(|error| error.is_no_coordinator())
}
