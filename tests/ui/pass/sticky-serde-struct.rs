//! A sticky fn whose argument is a user struct: `#[derive(Serialize)]` for the
//! stable policies, `#[derive(Hash)]` for `"fast"`.
#![deny(warnings)]

use std::collections::BTreeMap;

use serde::Serialize;
use tokengate::{TaskToken, fingerprint, task_token_guard};

#[derive(Clone, Debug, Serialize)]
pub struct Order {
    pub customer: String,
    pub lines: BTreeMap<String, u32>,
    pub express: bool,
}

#[derive(Clone, Copy, Hash)]
pub struct ShardId(pub u16);

#[task_token_guard(op = "place_order", sticky_anchor = "customer")]
pub fn place_order(order: Order) -> u32 {
    order.lines.values().sum()
}

#[task_token_guard(
    sticky_anchor = "customer",
    hash_policy = "full",
    digest_policy = "minimal"
)]
pub fn amend_order(order: Order, note: String) -> usize {
    order.lines.len() + note.len()
}

#[task_token_guard(sticky_anchor = "shard", hash_policy = "fast")]
pub fn rebalance(shard: ShardId) -> u16 {
    shard.0
}

fn main() {
    let order = Order {
        customer: "acme".to_owned(),
        lines: BTreeMap::from([("widget".to_owned(), 3)]),
        express: false,
    };
    // The key the call is routed by can be computed outside it too.
    let key = fingerprint::stable_key(&(&order,), fingerprint::DigestPolicy::Full).unwrap();
    assert_eq!(key.to_hex().len(), 64);

    let token: TaskToken<u32> = place_order(order.clone());
    assert_eq!(token.op(), "place_order");
    assert!(no_coordinator(token));
    assert!(no_coordinator(amend_order(order, "rush".to_owned())));
    assert!(no_coordinator(rebalance(ShardId(4))));
}

/// Whether the call failed at once for want of a coordinator, as every call
/// here does.
fn no_coordinator<T>(token: TaskToken<T>) -> bool {
    token.wait().is_err_and(|error| error.is_no_coordinator())
}
