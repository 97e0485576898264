use tokengate::task_token_guard;

pub struct Order {
    pub id: u64,
}

// A stable `hash_policy` (`"standard"`, the default, or `"full"`) keys a sticky
// call on its arguments' serde encoding: each argument type without
// `Serialize` is reported once, on the type. A type that only contains such a
// type (the tuple below) is reported a second time by the key computation,
// still on the type.
#[task_token_guard(sticky_anchor = "orders")]
fn ship(order: Order, priority: u8) -> u64 {
    order.id + u64::from(priority)
}

#[task_token_guard(sticky_anchor = "orders", hash_policy = "full")]
fn cancel(reason: String, (order, _): (Order, u8)) -> u64 {
    order.id + reason.len() as u64
}

// With one argument, the error is reported once, on its type.
#[task_token_guard(sticky_anchor = "orders", hash_policy = "standard")]
fn batch(orders: Vec<Order>) -> usize {
    orders.len()
}

fn main() {
    let _a = ship(Order { id: 1 }, 2);
    let _b = cancel(String::new(), (Order { id: 1 }, 0));
    let _c = batch(Vec::new());
}
