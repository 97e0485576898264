//! Without `op`, the operation is named after the fn (without `r#`); without
//! `weight`, it is medium.
#![deny(warnings)]

use tokengate::{Weight, task_token_guard};

#[task_token_guard]
fn resize_image(width: u32) -> u32 {
    width / 2
}

#[task_token_guard()]
fn r#match(x: u8) -> bool {
    x == 0
}

fn main() {
    let token = resize_image(640);
    assert_eq!(token.op(), "resize_image");
    assert_eq!(token.weight(), Weight::Medium);
    assert!(token.wait().unwrap_err().is_no_coordinator());

    assert_eq!(r#match(0).op(), "match");
}
