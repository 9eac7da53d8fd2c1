//! One log event as the outlets see it: time, level, message and fields, with the fields of the
//! enclosing spans (e.g. `job`, `subsystem`, `filesystem`) merged in.

use jiff::Timestamp;
use tracing::Level;
use tracing::field::{Field, Visit};

/// The fields every outlet puts first, in this order, when present.
pub const CONTEXT_FIELDS: [&str; 3] = ["job", "subsystem", "filesystem"];

/// A formatted-ready log event.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// When it happened.
    pub time: Timestamp,
    /// Its level.
    pub level: Level,
    /// The module that logged it.
    pub target: String,
    /// The message.
    pub message: String,
    /// Fields: first the context fields present (in [`CONTEXT_FIELDS`] order), then the others in
    /// the order they were recorded (span fields from the outermost span, then the event's).
    pub fields: Vec<(String, String)>,
}

impl LogRecord {
    /// The value of a field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Collects the fields of a span or event as strings; a later value of the same name replaces
/// the earlier one.
#[derive(Debug, Default, Clone)]
pub struct FieldCollector {
    /// The `message` field, if any.
    pub message: Option<String>,
    /// All other fields.
    pub fields: Vec<(String, String)>,
}

impl FieldCollector {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = Some(value);
        } else if let Some(slot) = self.fields.iter_mut().find(|(k, _)| k == field.name()) {
            slot.1 = value;
        } else {
            self.fields.push((field.name().to_string(), value));
        }
    }

    /// Merges `other`'s fields over these.
    pub fn extend(&mut self, other: &FieldCollector) {
        for (k, v) in &other.fields {
            if let Some(slot) = self.fields.iter_mut().find(|(key, _)| key == k) {
                slot.1 = v.clone();
            } else {
                self.fields.push((k.clone(), v.clone()));
            }
        }
    }

    /// Orders the context fields first.
    pub fn into_ordered_fields(mut self) -> Vec<(String, String)> {
        let mut ordered = Vec::with_capacity(self.fields.len());
        for name in CONTEXT_FIELDS {
            if let Some(pos) = self.fields.iter().position(|(k, _)| k == name) {
                ordered.push(self.fields.remove(pos));
            }
        }
        ordered.append(&mut self.fields);
        ordered
    }
}

impl Visit for FieldCollector {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}
