//! The tracing layer that turns events into [`LogRecord`]s and hands each to every outlet whose
//! level admits it.

use std::sync::Arc;

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::format::{LogFormat, format_record};
use super::record::{FieldCollector, LogRecord};

/// Where formatted lines go.
pub trait LineSink: Send + Sync {
    /// Writes one line (without newline). Must not block for long: slow destinations drop.
    fn write_line(&self, level: Level, line: &str);
}

/// One configured outlet.
pub struct Outlet {
    /// The most verbose level written.
    pub level: Level,
    /// The line format.
    pub format: LogFormat,
    /// Colour the human format.
    pub color: bool,
    /// The destination.
    pub sink: Arc<dyn LineSink>,
}

/// The layer dispatching to all outlets.
pub struct OutletLayer {
    outlets: Vec<Outlet>,
}

impl OutletLayer {
    /// A layer over `outlets`.
    pub fn new(outlets: Vec<Outlet>) -> OutletLayer {
        OutletLayer { outlets }
    }

    /// The most verbose level any outlet wants.
    pub fn max_level(&self) -> Option<Level> {
        // `Level` orders more verbose levels as greater.
        self.outlets.iter().map(|o| o.level).max()
    }
}

impl<S> tracing_subscriber::Layer<S> for OutletLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = FieldCollector::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().replace(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(fields) = extensions.get_mut::<FieldCollector>() {
                values.record(fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if !self.outlets.iter().any(|o| level <= o.level) {
            return;
        }
        let mut all = FieldCollector::default();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<FieldCollector>() {
                    all.extend(fields);
                }
            }
        }
        let mut own = FieldCollector::default();
        event.record(&mut own);
        all.extend(&own);
        let record = LogRecord {
            time: jiff::Timestamp::now(),
            level,
            target: event.metadata().target().to_string(),
            message: own.message.unwrap_or_default(),
            fields: all.into_ordered_fields(),
        };
        for outlet in &self.outlets {
            if level <= outlet.level {
                let line = format_record(outlet.format, &record, outlet.color);
                outlet.sink.write_line(level, &line);
            }
        }
    }
}

/// Writes lines to a `Write` (stdout, or a buffer in tests).
pub struct WriterSink<W: std::io::Write + Send> {
    writer: std::sync::Mutex<W>,
}

impl<W: std::io::Write + Send> WriterSink<W> {
    /// A sink over `writer`.
    pub fn new(writer: W) -> WriterSink<W> {
        WriterSink {
            writer: std::sync::Mutex::new(writer),
        }
    }
}

impl<W: std::io::Write + Send> LineSink for WriterSink<W> {
    fn write_line(&self, _level: Level, line: &str) {
        if let Ok(mut w) = self.writer.lock() {
            // A closed stdout cannot be reported anywhere else.
            let _ = writeln!(w, "{line}").and_then(|()| w.flush());
        }
    }
}
