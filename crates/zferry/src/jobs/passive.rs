//! Passive jobs (sink, source): serve a listener with the rpc server until shutdown.

use tokio::sync::watch;
use zferry_rpc::server::{ServerOptions, Service, serve};
use zferry_rpc::transport::Listener;

/// Serves `service` on `listener` until `shutdown` turns true.
pub async fn serve_until(
    job: String,
    listener: Box<dyn Listener>,
    service: Service,
    options: ServerOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::info!(job = %job, listener = %listener.describe(), "serving");
    serve(listener, service, options, async move {
        let _ = shutdown.wait_for(|s| *s).await;
    })
    .await;
}
