//! Parameters named like the items and bindings the expansion adds neither
//! clash with them nor reach them: every fn compiles, and its body sees the
//! caller's values. A pattern argument gets a hidden `__tg_arg0` beside the
//! caller's own `__tg_arg0`.
#![deny(warnings)]
#![allow(non_snake_case, clippy::too_many_arguments)]

use tokengate::{OperationsCoordinator, TaskToken, task_token_guard};

#[task_token_guard]
fn plain(
    (x, y): (u32, u32),
    __tg_arg0: u32,
    __TOKENGATE_SITE: u32,
    __TOKENGATE_PROCESS_FN: u32,
    __tokengate_body: u32,
    __tokengate_encode_args: u32,
    __tokengate_decode_args: u32,
    __tokengate_fast_key: u32,
    __tokengate_stable_key: u32,
    __tg_site: u32,
    __tg_process_fn: u32,
    __tg_out: u32,
    __tg_bytes: u32,
    __tg_input: u32,
    __tg_output: u32,
    __tg_value: u32,
) -> Vec<u32> {
    vec![
        x,
        y,
        __tg_arg0,
        __TOKENGATE_SITE,
        __TOKENGATE_PROCESS_FN,
        __tokengate_body,
        __tokengate_encode_args,
        __tokengate_decode_args,
        __tokengate_fast_key,
        __tokengate_stable_key,
        __tg_site,
        __tg_process_fn,
        __tg_out,
        __tg_bytes,
        __tg_input,
        __tg_output,
        __tg_value,
    ]
}

#[task_token_guard(sticky_anchor = "hidden")]
fn standard(
    (x, y): (u32, u32),
    __tg_arg0: u32,
    __TOKENGATE_SITE: u32,
    __TOKENGATE_PROCESS_FN: u32,
    __tokengate_body: u32,
    __tokengate_encode_args: u32,
    __tokengate_decode_args: u32,
    __tokengate_fast_key: u32,
    __tokengate_stable_key: u32,
    __tg_site: u32,
    __tg_process_fn: u32,
    __tg_out: u32,
    __tg_bytes: u32,
    __tg_input: u32,
    __tg_output: u32,
    __tg_value: u32,
) -> Vec<u32> {
    vec![
        x,
        y,
        __tg_arg0,
        __TOKENGATE_SITE,
        __TOKENGATE_PROCESS_FN,
        __tokengate_body,
        __tokengate_encode_args,
        __tokengate_decode_args,
        __tokengate_fast_key,
        __tokengate_stable_key,
        __tg_site,
        __tg_process_fn,
        __tg_out,
        __tg_bytes,
        __tg_input,
        __tg_output,
        __tg_value,
    ]
}

#[task_token_guard(sticky_anchor = "hidden", hash_policy = "full")]
fn full(
    (x, y): (u32, u32),
    __tg_arg0: u32,
    __TOKENGATE_SITE: u32,
    __TOKENGATE_PROCESS_FN: u32,
    __tokengate_body: u32,
    __tokengate_encode_args: u32,
    __tokengate_decode_args: u32,
    __tokengate_fast_key: u32,
    __tokengate_stable_key: u32,
    __tg_site: u32,
    __tg_process_fn: u32,
    __tg_out: u32,
    __tg_bytes: u32,
    __tg_input: u32,
    __tg_output: u32,
    __tg_value: u32,
) -> Vec<u32> {
    vec![
        x,
        y,
        __tg_arg0,
        __TOKENGATE_SITE,
        __TOKENGATE_PROCESS_FN,
        __tokengate_body,
        __tokengate_encode_args,
        __tokengate_decode_args,
        __tokengate_fast_key,
        __tokengate_stable_key,
        __tg_site,
        __tg_process_fn,
        __tg_out,
        __tg_bytes,
        __tg_input,
        __tg_output,
        __tg_value,
    ]
}

#[task_token_guard(sticky_anchor = "hidden", hash_policy = "fast")]
fn fast(
    (x, y): (u32, u32),
    __tg_arg0: u32,
    __TOKENGATE_SITE: u32,
    __TOKENGATE_PROCESS_FN: u32,
    __tokengate_body: u32,
    __tokengate_encode_args: u32,
    __tokengate_decode_args: u32,
    __tokengate_fast_key: u32,
    __tokengate_stable_key: u32,
    __tg_site: u32,
    __tg_process_fn: u32,
    __tg_out: u32,
    __tg_bytes: u32,
    __tg_input: u32,
    __tg_output: u32,
    __tg_value: u32,
) -> Vec<u32> {
    vec![
        x,
        y,
        __tg_arg0,
        __TOKENGATE_SITE,
        __TOKENGATE_PROCESS_FN,
        __tokengate_body,
        __tokengate_encode_args,
        __tokengate_decode_args,
        __tokengate_fast_key,
        __tokengate_stable_key,
        __tg_site,
        __tg_process_fn,
        __tg_out,
        __tg_bytes,
        __tg_input,
        __tg_output,
        __tg_value,
    ]
}

#[task_token_guard(sticky_anchor = "hidden", hash_policy = "none")]
fn none(
    (x, y): (u32, u32),
    __tg_arg0: u32,
    __TOKENGATE_SITE: u32,
    __TOKENGATE_PROCESS_FN: u32,
    __tokengate_body: u32,
    __tokengate_encode_args: u32,
    __tokengate_decode_args: u32,
    __tokengate_fast_key: u32,
    __tokengate_stable_key: u32,
    __tg_site: u32,
    __tg_process_fn: u32,
    __tg_out: u32,
    __tg_bytes: u32,
    __tg_input: u32,
    __tg_output: u32,
    __tg_value: u32,
) -> Vec<u32> {
    vec![
        x,
        y,
        __tg_arg0,
        __TOKENGATE_SITE,
        __TOKENGATE_PROCESS_FN,
        __tokengate_body,
        __tokengate_encode_args,
        __tokengate_decode_args,
        __tokengate_fast_key,
        __tokengate_stable_key,
        __tg_site,
        __tg_process_fn,
        __tg_out,
        __tg_bytes,
        __tg_input,
        __tg_output,
        __tg_value,
    ]
}

#[task_token_guard(process_pool = true)]
fn process(
    (x, y): (u32, u32),
    __tg_arg0: u32,
    __TOKENGATE_SITE: u32,
    __TOKENGATE_PROCESS_FN: u32,
    __tokengate_body: u32,
    __tokengate_encode_args: u32,
    __tokengate_decode_args: u32,
    __tokengate_fast_key: u32,
    __tokengate_stable_key: u32,
    __tg_site: u32,
    __tg_process_fn: u32,
    __tg_out: u32,
    __tg_bytes: u32,
    __tg_input: u32,
    __tg_output: u32,
    __tg_value: u32,
) -> Vec<u32> {
    vec![
        x,
        y,
        __tg_arg0,
        __TOKENGATE_SITE,
        __TOKENGATE_PROCESS_FN,
        __tokengate_body,
        __tokengate_encode_args,
        __tokengate_decode_args,
        __tokengate_fast_key,
        __tokengate_stable_key,
        __tg_site,
        __tg_process_fn,
        __tg_out,
        __tg_bytes,
        __tg_input,
        __tg_output,
        __tg_value,
    ]
}

#[task_token_guard(sticky_anchor = "hidden", hash_policy = "fast", process_pool = true)]
fn sticky_process(
    (x, y): (u32, u32),
    __tg_arg0: u32,
    __TOKENGATE_SITE: u32,
    __TOKENGATE_PROCESS_FN: u32,
    __tokengate_body: u32,
    __tokengate_encode_args: u32,
    __tokengate_decode_args: u32,
    __tokengate_fast_key: u32,
    __tokengate_stable_key: u32,
    __tg_site: u32,
    __tg_process_fn: u32,
    __tg_out: u32,
    __tg_bytes: u32,
    __tg_input: u32,
    __tg_output: u32,
    __tg_value: u32,
) -> Vec<u32> {
    vec![
        x,
        y,
        __tg_arg0,
        __TOKENGATE_SITE,
        __TOKENGATE_PROCESS_FN,
        __tokengate_body,
        __tokengate_encode_args,
        __tokengate_decode_args,
        __tokengate_fast_key,
        __tokengate_stable_key,
        __tg_site,
        __tg_process_fn,
        __tg_out,
        __tg_bytes,
        __tg_input,
        __tg_output,
        __tg_value,
    ]
}

/// The fns' common signature.
type Hidden = fn(
    (u32, u32),
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
) -> TaskToken<Vec<u32>>;

fn main() {
    let coordinator = OperationsCoordinator::start();
    let bound = coordinator.enter();
    let fns: [(&str, Hidden); 7] = [
        ("plain", plain),
        ("standard", standard),
        ("full", full),
        ("fast", fast),
        ("none", none),
        ("process", process),
        ("sticky_process", sticky_process),
    ];
    for (name, f) in fns {
        let token = f((1, 2), 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17);
        let values = token.wait().unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(values, (1..=17).collect::<Vec<u32>>(), "{name}");
    }
    drop(bound);
    coordinator.stop();
}
