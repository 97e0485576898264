//! Keys passed through `macro_rules!` fragments, which wrap them in invisible
//! groups, are read like literals written in place.
#![deny(warnings)]

use tokengate::{Weight, task_token_guard};

macro_rules! guarded {
    ($name:ident, $weight:expr, $timeout:literal) => {
        #[task_token_guard(weight = $weight, timeout = $timeout)]
        fn $name(x: u32) -> u32 {
            x
        }
    };
}

guarded!(from_macro, "heavy", "10ms");

fn main() {
    let token = from_macro(1);
    assert_eq!(token.op(), "from_macro");
    assert_eq!(token.weight(), Weight::Heavy);
}
