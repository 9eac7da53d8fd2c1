//! The control socket: HTTP over a unix socket at `global.control.sockpath`, used by
//! `zferry status`, `zferry signal` and `zferry version`.
//!
//! Endpoints: `GET /status` (the [`crate::daemon::status::DaemonStatus`] JSON), `GET /version`,
//! `POST /signal/wakeup` with `{"job": NAME, "wait": BOOL}` and `POST /signal/reset` with
//! `{"job": NAME}`. Errors come back as `{"error": TEXT}` with 404 (unknown job), 409 (the job
//! cannot do that) or 400 (bad request). The socket's directory must not be accessible to other
//! users: it is created with mode 0700, and an existing directory with any permission bits for
//! "others" is refused.

pub mod api;
pub mod client;
pub mod server;
pub mod socket;
