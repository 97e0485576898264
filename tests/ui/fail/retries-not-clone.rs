use tokengate::task_token_guard;

pub struct Connection {
    pub port: u16,
}

#[task_token_guard(op = "send", retries = 3)]
fn send(connection: Connection, payload: Vec<u8>) -> usize {
    payload.len() + usize::from(connection.port)
}

fn main() {
    let _ = send(Connection { port: 1 }, vec![1]);
}
