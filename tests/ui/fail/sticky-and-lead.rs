use tokengate::task_token_guard;

// A fn is either a sticky domain member or a lead: the key written second is
// refused, whichever it is.
#[task_token_guard(sticky_anchor = "user", external_calls = ["child_op"])]
fn sticky_first(user: u64) -> u64 {
    user
}

#[task_token_guard(external_calls = ["child_op"], weight = "heavy", sticky_anchor = "user")]
fn lead_first(user: u64) -> u64 {
    user
}

fn main() {
    // Both fns are still expanded, so callers type-check.
    let _a: tokengate::TaskToken<u64> = sticky_first(1);
    let _b: tokengate::TaskToken<u64> = lead_first(1);
}
