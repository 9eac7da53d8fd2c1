//! The three line formats: `human`, `logfmt` and `json`.
//!
//! logfmt: `key=value` pairs separated by spaces; a value is quoted when it is empty or contains
//! a space, `=`, `"`, `\` or a control character; inside quotes `"` and `\` are escaped with a
//! backslash and newline, carriage return and tab as `\n`, `\r`, `\t`, other control characters as
//! `\u{XX}`. Keys are sanitised to characters other than space, `=` and `"`.

use std::fmt::Write as _;

use tracing::Level;

use super::record::{CONTEXT_FIELDS, LogRecord};

/// A log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people: time, level, context in brackets, message, then `key=value` fields.
    Human,
    /// logfmt `key=value` pairs.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// Formats `record` as one line (without the trailing newline). `color` adds ANSI colours to the
/// level of the human format.
pub fn format_record(format: LogFormat, record: &LogRecord, color: bool) -> String {
    match format {
        LogFormat::Human => human(record, color),
        LogFormat::Logfmt => logfmt(record),
        LogFormat::Json => json(record),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

fn human(record: &LogRecord, color: bool) -> String {
    let level = level_name(record.level).to_uppercase();
    let level = if color {
        let code = match record.level {
            Level::ERROR => "31",
            Level::WARN => "33",
            Level::INFO => "32",
            Level::DEBUG => "36",
            Level::TRACE => "35",
        };
        format!("\x1b[{code}m{level}\x1b[0m")
    } else {
        level
    };
    let mut out = format!(
        "{} [{level}]",
        record.time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
    );
    for name in CONTEXT_FIELDS {
        if let Some(value) = record.field(name) {
            let _ = write!(out, "[{value}]");
        }
    }
    let _ = write!(out, ": {}", record.message);
    let mut first = true;
    for (key, value) in &record.fields {
        if CONTEXT_FIELDS.contains(&key.as_str()) {
            continue;
        }
        out.push_str(if first { "  " } else { " " });
        first = false;
        push_pair(&mut out, key, value);
    }
    out
}

fn logfmt(record: &LogRecord) -> String {
    let mut out = String::new();
    push_pair(
        &mut out,
        "time",
        &record.time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    );
    out.push(' ');
    push_pair(&mut out, "level", level_name(record.level));
    for key in CONTEXT_FIELDS {
        if let Some(value) = record.field(key) {
            out.push(' ');
            push_pair(&mut out, key, value);
        }
    }
    out.push(' ');
    push_pair(&mut out, "msg", &record.message);
    for (key, value) in record
        .fields
        .iter()
        .filter(|(k, _)| !CONTEXT_FIELDS.contains(&k.as_str()))
    {
        out.push(' ');
        push_pair(&mut out, key, value);
    }
    out
}

/// Appends `key=value` in logfmt syntax.
pub fn push_pair(out: &mut String, key: &str, value: &str) {
    if key.is_empty() {
        out.push('_');
    }
    for c in key.chars() {
        out.push(if c == ' ' || c == '=' || c == '"' || c.is_control() {
            '_'
        } else {
            c
        });
    }
    out.push('=');
    push_value(out, value);
}

fn push_value(out: &mut String, value: &str) {
    let needs_quotes = value.is_empty()
        || value
            .chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c == '\\' || c.is_control());
    if !needs_quotes {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:02x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json(record: &LogRecord) -> String {
    let mut object = serde_json::Map::new();
    object.insert(
        "time".into(),
        record
            .time
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
            .into(),
    );
    object.insert("level".into(), level_name(record.level).into());
    object.insert("msg".into(), record.message.clone().into());
    object.insert("target".into(), record.target.clone().into());
    for (key, value) in &record.fields {
        object
            .entry(key.clone())
            .or_insert_with(|| value.clone().into());
    }
    serde_json::Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(message: &str, fields: &[(&str, &str)]) -> LogRecord {
        LogRecord {
            time: "2024-01-02T03:04:05.678Z".parse().expect("time"),
            level: Level::WARN,
            target: "zferry::test".into(),
            message: message.into(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn pair(value: &str) -> String {
        let mut out = String::new();
        push_pair(&mut out, "k", value);
        out
    }

    #[test]
    fn logfmt_value_escaping() {
        assert_eq!(pair("plain"), "k=plain");
        assert_eq!(pair(""), "k=\"\"");
        assert_eq!(pair("two words"), "k=\"two words\"");
        assert_eq!(pair("a=b"), "k=\"a=b\"");
        assert_eq!(pair("say \"hi\""), "k=\"say \\\"hi\\\"\"");
        assert_eq!(pair("C:\\dir"), "k=\"C:\\\\dir\"");
        assert_eq!(pair("line1\nline2\r\tx"), "k=\"line1\\nline2\\r\\tx\"");
        assert_eq!(pair("bell\u{7}"), "k=\"bell\\u{07}\"");
        assert_eq!(pair("tank/a@zrepl_1:x"), "k=tank/a@zrepl_1:x");
        assert_eq!(pair("ünïcode"), "k=ünïcode");
    }

    #[test]
    fn logfmt_key_sanitising() {
        let mut out = String::new();
        push_pair(&mut out, "a b=\"c", "v");
        assert_eq!(out, "a_b__c=v");
        let mut out = String::new();
        push_pair(&mut out, "", "v");
        assert_eq!(out, "_=v");
    }

    #[test]
    fn logfmt_line_puts_context_first() {
        let r = record(
            "step done",
            &[("bytes", "10"), ("filesystem", "tank/a b"), ("job", "push")],
        );
        assert_eq!(
            format_record(LogFormat::Logfmt, &r, false),
            "time=2024-01-02T03:04:05.678Z level=warn job=push filesystem=\"tank/a b\" msg=\"step done\" bytes=10"
        );
    }

    #[test]
    fn human_line_with_and_without_colour() {
        let r = record(
            "cannot connect",
            &[("job", "push"), ("subsystem", "repl"), ("err", "refused")],
        );
        assert_eq!(
            format_record(LogFormat::Human, &r, false),
            "2024-01-02T03:04:05.678Z [WARN][push][repl]: cannot connect  err=refused"
        );
        assert!(format_record(LogFormat::Human, &r, true).contains("\x1b[33mWARN\x1b[0m"));
    }

    #[test]
    fn json_line_is_an_object_with_all_fields() {
        let r = record("hi \"there\"", &[("job", "push"), ("n", "1")]);
        let line = format_record(LogFormat::Json, &r, false);
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["msg"], "hi \"there\"");
        assert_eq!(v["level"], "warn");
        assert_eq!(v["job"], "push");
        assert_eq!(v["n"], "1");
        assert_eq!(v["time"], "2024-01-02T03:04:05.678Z");
        assert!(!line.contains('\n'));
    }
}
