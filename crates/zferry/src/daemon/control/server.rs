//! The control server: an axum router over [`JobControl`], served on the unix socket.

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::UnixListener;

use super::api::{ControlError, ErrorBody, JobControl, ResetRequest, VersionInfo, WakeupRequest};

type Shared = Arc<dyn JobControl>;

/// The routes of the control API.
pub fn control_router(control: Shared) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/version", get(version))
        .route("/signal/wakeup", post(wakeup))
        .route("/signal/reset", post(reset))
        .with_state(control)
}

/// Serves the control API on `listener` until `shutdown` completes.
pub async fn serve_control(
    listener: UnixListener,
    control: Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, control_router(control))
        .with_graceful_shutdown(shutdown)
        .await
}

fn error_response(status: StatusCode, error: impl ToString) -> Response {
    (
        status,
        Json(ErrorBody {
            error: error.to_string(),
        }),
    )
        .into_response()
}

fn control_error(e: ControlError) -> Response {
    let status = match e {
        ControlError::UnknownJob(_) => StatusCode::NOT_FOUND,
        ControlError::NotSupported { .. } => StatusCode::CONFLICT,
    };
    error_response(status, e)
}

async fn status(State(control): State<Shared>) -> Response {
    Json(control.status()).into_response()
}

async fn version() -> Response {
    Json(VersionInfo::current()).into_response()
}

async fn wakeup(
    State(control): State<Shared>,
    body: Result<Json<WakeupRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, e.body_text()),
    };
    match control.wakeup(&request.job, request.wait).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(e) => control_error(e),
    }
}

async fn reset(
    State(control): State<Shared>,
    body: Result<Json<ResetRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, e.body_text()),
    };
    match control.reset(&request.job).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => control_error(e),
    }
}
