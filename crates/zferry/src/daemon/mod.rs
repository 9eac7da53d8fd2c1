//! The daemon's subsystems, each usable and tested on its own: snapshot naming and scheduling,
//! snapshot hooks, logging outlets, Prometheus metrics, the control socket and the status model
//! with its terminal UI, systemd notifications. `zferry daemon` wires them to the jobs.

pub mod control;
pub mod hooks;
pub mod logging;
pub mod metrics;
pub mod snapshot;
pub mod status;
pub mod status_ui;
pub mod systemd;
