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

fn main() {
    let _a = ship(Order { id: 1 }, 2);
    let _b = ship_sticky(2, Order { id: 1 });
}
