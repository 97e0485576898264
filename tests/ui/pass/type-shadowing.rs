//! The expansion uses absolute paths only, so user items named like the
//! runtime's, or like std's, do not change it.
#![deny(warnings)]
#![allow(dead_code, non_camel_case_types)]

use ::tokengate::task_token_guard;

struct TaskToken;
struct Site;
struct Weight;
struct Send;
struct Sync;
struct Option;
struct Result;
struct __private;
mod tokengate {}
mod core {}

#[task_token_guard(op = "shadowed", weight = "medium", timeout = "2s")]
fn shadowed(x: u8) -> u8 {
    x
}

fn main() {
    let token: ::tokengate::TaskToken<u8> = shadowed(1);
    assert_eq!(token.op(), "shadowed");
}
