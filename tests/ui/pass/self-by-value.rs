//! A method may take `self` by value: it moves to the worker with the call.
#![deny(warnings)]

use tokengate::{TaskToken, task_token_guard};

#[derive(Clone, Debug)]
pub struct Report {
    lines: Vec<String>,
}

impl Report {
    #[task_token_guard(op = "report_render")]
    pub fn render(self) -> String {
        self.lines.join("\n")
    }

    #[task_token_guard]
    pub fn with_footer(mut self, footer: String) -> Self {
        self.lines.push(footer);
        self
    }

    #[task_token_guard]
    pub fn boxed_len(self: Box<Self>) -> usize {
        self.lines.len()
    }
}

pub trait Render {
    fn render_all(self) -> TaskToken<String>;
}

impl Render for Report {
    // A trait whose method returns a token can be implemented with the attribute.
    #[task_token_guard]
    fn render_all(self) -> String {
        self.lines.concat()
    }
}

fn main() {
    let report = Report {
        lines: vec!["a".to_owned()],
    };
    assert_eq!(report.clone().render().op(), "report_render");
    assert!(
        report
            .clone()
            .with_footer("--".to_owned())
            .wait()
            .unwrap_err()
            .is_no_coordinator()
    );
    assert!(Box::new(report.clone()).boxed_len().wait().is_err());
    assert_eq!(report.render_all().op(), "render_all");
}
