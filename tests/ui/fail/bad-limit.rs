use tokengate::task_token_guard;

#[task_token_guard(limit = "")]
fn blank() {}

#[task_token_guard(limit = "github api")]
fn spaced() {}

#[task_token_guard(limit = "api/v2")]
fn slashed() {}

#[task_token_guard(limit = github_api)]
fn bare_word() {}

fn main() {
    let _a = blank();
    let _b = spaced();
    let _c = slashed();
    let _d = bare_word();
}
