use tokengate::task_token_guard;

pub struct Receipt {
    pub id: u64,
}

// The return value comes back from the worker process with serde too.
#[task_token_guard(process_pool = true)]
fn ship(id: u64) -> Receipt {
    Receipt { id }
}

fn main() {
    let _token = ship(1);
}
