use tokengate::task_token_guard;

mod reexport {
    pub use ::tokengate as tg;
}

// A path that does not lead to tokengate is reported once, on the literal,
// rather than at each place the expansion names the runtime.
#[task_token_guard(crate = "crate::reexprot::tg", sticky_anchor = "a")]
fn typo(x: u32, name: String) -> u32 {
    drop(name);
    x
}

fn main() {
    let _token: reexport::tg::TaskToken<u32> = typo(1, String::new());
}
