use tokengate::task_token_guard;

#[task_token_guard(crate = "my reexport::tokengate")]
fn spaced(x: u32) -> u32 {
    x
}

#[task_token_guard(op = "generic", crate = "reexport::tg<T>")]
fn generic(x: u32) -> u32 {
    x
}

#[task_token_guard(crate = "")]
fn empty(x: u32) -> u32 {
    x
}

#[task_token_guard(crate = reexport::tg)]
fn unquoted(x: u32) -> u32 {
    x
}

// The refused path leaves `::tokengate`, so the fns still expand and type-check.
fn main() {
    let _tokens = [spaced(1), generic(2), empty(3), unquoted(4)];
}
