//! A `tracing` layer that records the spans and events it sees, for tests of
//! the `tokengate.call` span and its events (runtime and process tests).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use tokengate::TokenId;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// A span as the layer saw it (its fields as text); `parent` is the serial of its parent span.
#[derive(Clone, Debug, Default)]
pub struct SpanSeen {
    pub name: &'static str,
    pub parent: Option<u64>,
    pub fields: HashMap<String, String>,
    pub entered_on: Vec<ThreadId>,
    pub closed: bool,
}

/// An event as the layer saw it (its fields as text, less `message`).
#[derive(Clone, Debug)]
pub struct EventSeen {
    pub level: Level,
    pub message: String,
    pub fields: HashMap<String, String>,
    /// The serial of the span it happened in.
    pub span: Option<u64>,
}

/// Everything recorded.
#[derive(Debug, Default)]
pub struct Log {
    /// By serial (span ids are reused once closed; serials are not).
    pub spans: HashMap<u64, SpanSeen>,
    pub events: Vec<EventSeen>,
}

/// Records spans and events into a shared log.
#[derive(Clone, Debug, Default)]
pub struct Recording(Arc<Mutex<Log>>);

/// The serial of a span, kept in its extensions.
struct Serial(u64);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Recording {
    /// What was recorded so far.
    pub fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.0.lock().unwrap()
    }

    /// The `tokengate.call` span of token `id`.
    pub fn call_span(&self, id: TokenId) -> (u64, SpanSeen) {
        let log = self.log();
        let found = log.spans.iter().find(|(_, span)| {
            span.name == tokengate::telemetry::CALL_SPAN
                && span.fields.get("token_id") == Some(&id.as_u64().to_string())
        });
        match found {
            Some((serial, span)) => (*serial, span.clone()),
            None => panic!("no span for token {id}; spans: {:#?}", log.spans),
        }
    }

    /// The serial of the (only) span named `name`.
    pub fn span_named(&self, name: &str) -> u64 {
        let log = self.log();
        let serials: Vec<u64> = log
            .spans
            .iter()
            .filter(|(_, span)| span.name == name)
            .map(|(serial, _)| *serial)
            .collect();
        assert_eq!(serials.len(), 1, "spans named {name}: {:#?}", log.spans);
        serials[0]
    }

    /// The events with this message.
    pub fn events(&self, message: &str) -> Vec<EventSeen> {
        self.log()
            .events
            .iter()
            .filter(|event| event.message == message)
            .cloned()
            .collect()
    }
}

fn serial_of<S>(ctx: &Context<'_, S>, id: &Id) -> Option<u64>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = ctx.span(id)?;
    let extensions = span.extensions();
    extensions.get::<Serial>().map(|serial| serial.0)
}

impl<S> Layer<S> for Recording
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let serial = NEXT.fetch_add(1, Ordering::Relaxed);
        let span = ctx.span(id).expect("a new span is in the registry");
        let parent = span
            .parent()
            .and_then(|parent| serial_of(&ctx, &parent.id()));
        span.extensions_mut().insert(Serial(serial));
        let mut seen = SpanSeen {
            name: attrs.metadata().name(),
            parent,
            ..SpanSeen::default()
        };
        attrs.record(&mut Fields(&mut seen.fields));
        self.log().spans.insert(serial, seen);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(serial) = serial_of(&ctx, id) else {
            return;
        };
        if let Some(span) = self.log().spans.get_mut(&serial) {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(serial) = serial_of(&ctx, id) else {
            return;
        };
        if let Some(span) = self.log().spans.get_mut(&serial) {
            span.entered_on.push(std::thread::current().id());
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(serial) = serial_of(&ctx, &id) else {
            return;
        };
        if let Some(span) = self.log().spans.get_mut(&serial) {
            span.closed = true;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        let span = ctx
            .event_span(event)
            .and_then(|span| span.extensions().get::<Serial>().map(|s| s.0));
        self.log().events.push(EventSeen {
            level: *event.metadata().level(),
            message,
            fields,
            span,
        });
    }
}

/// Runs `body` with a recording subscriber as this thread's default.
pub fn recorded<R>(body: impl FnOnce(&Recording) -> R) -> R {
    let recording = Recording::default();
    let subscriber = tracing_subscriber::registry().with(recording.clone());
    tracing::subscriber::with_default(subscriber, || body(&recording))
}
