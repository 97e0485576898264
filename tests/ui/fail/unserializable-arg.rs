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

// Past 12 arguments, the key groups them into tuples of 12: still reported
// once, on the type.
#[task_token_guard(sticky_anchor = "orders")]
fn wide(
    a0: u8, a1: u8, a2: u8, a3: u8, a4: u8, a5: u8, a6: u8, a7: u8, a8: u8, a9: u8,
    a10: u8, a11: u8, a12: u8, order: Order,
) -> u64 {
    let sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12;
    order.id + u64::from(sum)
}

fn main() {
    let _a = ship(Order { id: 1 }, 2);
    let _b = cancel(String::new(), (Order { id: 1 }, 0));
    let _c = batch(Vec::new());
    let _d = wide(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, Order { id: 1 });
}
