use tokengate::task_token_guard;

// A guarded call's token resolves to the fn's value, so the fn must have one.
#[task_token_guard]
fn serve(port: u16) -> ! {
    loop {
        let _ = port;
    }
}

#[task_token_guard(process_pool = true)]
fn watch(path: String) -> ! {
    loop {
        let _ = &path;
    }
}

// The same through a `macro_rules!` fragment.
macro_rules! forever {
    ($ret:ty) => {
        #[task_token_guard(sticky_anchor = "spin")]
        fn spin(n: u8) -> $ret {
            loop {
                let _ = n;
            }
        }
    };
}

forever!(!);

fn main() {
    let _a = serve(80);
    let _b = watch(String::new());
    let _c = spin(1);
}
