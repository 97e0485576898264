// A coordinator stops when it is dropped: starting one without keeping it is
// a warning (an error here), not a silent "no coordinator" later.
#![deny(unused_must_use)]

fn main() {
    tokengate::OperationsCoordinator::start();
}
