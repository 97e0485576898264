use tokengate::task_token_guard;

pub struct Order {
    pub id: u64,
}

// A remote call sends its arguments to a worker host and its value back with
// serde: a type without it is reported on the type, once per missing trait.
#[task_token_guard(remote = true)]
fn ship(order: Order, priority: u8) -> u64 {
    order.id + u64::from(priority)
}

#[task_token_guard(remote = true, process_pool = true)]
fn receipt(id: u64) -> Order {
    Order { id }
}

fn main() {
    let _a = ship(Order { id: 1 }, 2);
    let _b = receipt(1);
}
