//! `postgres-checkpoint` hooks: `CHECKPOINT` before the snapshot (needs superuser rights). The
//! statement timeout is set to the hook's timeout; a dry run only checks the connection.

use tokio_postgres::{Config, NoTls};

use super::{Edge, Hook, HookEnv, HookOutcome, HookSettings, HookState};

/// A `postgres-checkpoint` hook.
#[derive(Debug)]
pub struct PostgresCheckpointHook {
    config: Config,
    settings: HookSettings,
}

impl PostgresCheckpointHook {
    /// A hook connecting with `dsn`, in libpq's `key=value` form or as a `postgresql://` URL.
    pub fn new(
        dsn: &str,
        settings: HookSettings,
    ) -> Result<PostgresCheckpointHook, tokio_postgres::Error> {
        Ok(PostgresCheckpointHook {
            config: dsn.parse()?,
            settings,
        })
    }

    async fn checkpoint(&self, dry_run: bool) -> Result<(), tokio_postgres::Error> {
        let (client, connection) = self.config.connect(NoTls).await?;
        let driver = tokio::spawn(connection);
        let millis = self.settings.timeout.as_millis();
        let result = async {
            client
                .batch_execute(&format!("SET statement_timeout TO {millis}"))
                .await?;
            if dry_run {
                client.batch_execute("SELECT 1").await
            } else {
                client.batch_execute("CHECKPOINT").await
            }
        }
        .await;
        drop(client);
        // The connection task ends once the client is gone; its result adds nothing.
        let _ = driver.await;
        result
    }
}

#[async_trait::async_trait]
impl Hook for PostgresCheckpointHook {
    fn describe(&self) -> String {
        "postgres-checkpoint".to_string()
    }

    fn settings(&self) -> &HookSettings {
        &self.settings
    }

    async fn run(&self, edge: Edge, env: &HookEnv, _state: &mut HookState) -> HookOutcome {
        if edge == Edge::Post {
            return HookOutcome::ok();
        }
        let timeout = self.settings.timeout;
        match tokio::time::timeout(timeout, self.checkpoint(env.dry_run)).await {
            Ok(Ok(())) => HookOutcome::ok(),
            Ok(Err(e)) => HookOutcome::failed(format!("postgres CHECKPOINT failed: {e}")),
            Err(_) => {
                HookOutcome::failed(format!("postgres CHECKPOINT timed out after {timeout:?}"))
            }
        }
    }
}
