use tokengate::task_token_guard;

// `#[key]` takes no arguments.
#[task_token_guard(sticky_anchor = "accounts")]
fn settle(#[key(account)] account: u64, #[key = "amount"] amount: i64) -> i64 {
    amount + account as i64
}

// One marker per argument.
#[task_token_guard(sticky_anchor = "accounts")]
fn refund(#[key] #[key] account: u64, amount: i64) -> i64 {
    amount + account as i64
}

pub struct Ledger(u64);

impl Ledger {
    // `self` cannot be marked.
    #[task_token_guard(sticky_anchor = "ledgers")]
    fn close(#[key] self, #[key] day: u32) -> u64 {
        self.0 + u64::from(day)
    }
}

fn main() {
    let _a = settle(1, 2);
    let _b = refund(1, 2);
    let _c = Ledger(1).close(2);
}
