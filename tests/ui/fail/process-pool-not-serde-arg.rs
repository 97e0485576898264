use tokengate::task_token_guard;

pub struct Order {
    pub id: u64,
}

// A process-pool call sends its arguments to a worker process with serde: an
// argument type without serde is reported on the type, once per missing trait,
// however many places of the expansion need it.
#[task_token_guard(process_pool = true)]
fn ship(order: Order, priority: u8) -> u64 {
    order.id + u64::from(priority)
}

// The same for a sticky fn: its key's `Serialize` check adds no error.
#[task_token_guard(sticky_anchor = "orders", process_pool = true)]
fn ship_sticky(priority: u8, order: Order) -> u64 {
    order.id + u64::from(priority)
}

// Past 12 arguments, the encoding groups them into tuples of 12: still
// reported on the type.
#[task_token_guard(process_pool = true)]
fn ship_wide(
    a0: u8, a1: u8, a2: u8, a3: u8, a4: u8, a5: u8, a6: u8, a7: u8, a8: u8, a9: u8,
    a10: u8, a11: u8, a12: u8, order: Order,
) -> u64 {
    let sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12;
    order.id + u64::from(sum)
}

fn main() {
    let _a = ship(Order { id: 1 }, 2);
    let _b = ship_sticky(2, Order { id: 1 });
    let _c = ship_wide(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, Order { id: 1 });
}
