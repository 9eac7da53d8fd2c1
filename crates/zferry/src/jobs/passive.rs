//! Passive jobs (sink, source): serve a listener with the rpc server until shutdown.

use tokio::sync::watch;
use zferry_rpc::server::{ServerOptions, Service, serve};
use zferry_rpc::transport::{Incoming, Listener};

/// A boxed listener, as the transport builder hands it out.
pub struct BoxedListener(pub Box<dyn Listener>);

#[async_trait::async_trait]
impl Listener for BoxedListener {
    async fn accept(&mut self) -> zferry_rpc::Result<Incoming> {
        self.0.accept().await
    }

    fn describe(&self) -> String {
        self.0.describe()
    }
}

/// Serves `service` on `listener` until `shutdown` turns true.
pub async fn serve_until(
    job: String,
    listener: Box<dyn Listener>,
    service: Service,
    options: ServerOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let listener = BoxedListener(listener);
    tracing::info!(job = %job, listener = %listener.describe(), "serving");
    serve(listener, service, options, async move {
        let _ = shutdown.wait_for(|s| *s).await;
    })
    .await;
}
