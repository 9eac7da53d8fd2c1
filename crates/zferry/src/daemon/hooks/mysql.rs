//! `mysql-lock-tables` hooks: `FLUSH TABLES WITH READ LOCK` before the snapshot, held on the same
//! connection until `UNLOCK TABLES` after it (the consistent file-system-snapshot backup the MySQL
//! manual describes).

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

use super::mysql_dsn::{DsnError, parse_mysql_dsn};
use super::{Edge, Hook, HookEnv, HookOutcome, HookSettings, HookState};

/// A `mysql-lock-tables` hook.
#[derive(Debug)]
pub struct MysqlLockTablesHook {
    opts: Opts,
    settings: HookSettings,
}

impl MysqlLockTablesHook {
    /// A hook connecting with `dsn` (see [`super::mysql_dsn`]).
    pub fn new(dsn: &str, settings: HookSettings) -> Result<MysqlLockTablesHook, DsnError> {
        Ok(MysqlLockTablesHook {
            opts: parse_mysql_dsn(dsn)?,
            settings,
        })
    }

    async fn lock(&self) -> Result<Conn, mysql_async::Error> {
        let mut conn = Conn::new(self.opts.clone()).await?;
        conn.query_drop("FLUSH TABLES WITH READ LOCK").await?;
        Ok(conn)
    }

    async fn unlock(mut conn: Conn) -> Result<(), mysql_async::Error> {
        conn.query_drop("UNLOCK TABLES").await?;
        conn.disconnect().await
    }
}

#[async_trait::async_trait]
impl Hook for MysqlLockTablesHook {
    fn describe(&self) -> String {
        "mysql-lock-tables".to_string()
    }

    fn settings(&self) -> &HookSettings {
        &self.settings
    }

    async fn run(&self, edge: Edge, _env: &HookEnv, state: &mut HookState) -> HookOutcome {
        let timeout = self.settings.timeout;
        match edge {
            Edge::Pre => match tokio::time::timeout(timeout, self.lock()).await {
                Ok(Ok(conn)) => {
                    *state = Some(Box::new(conn));
                    HookOutcome::ok()
                }
                Ok(Err(e)) => HookOutcome::failed(format!("FLUSH TABLES WITH READ LOCK: {e}")),
                Err(_) => HookOutcome::failed(format!(
                    "FLUSH TABLES WITH READ LOCK timed out after {timeout:?}"
                )),
            },
            Edge::Post => {
                let Some(conn) = state.take().and_then(|s| s.downcast::<Conn>().ok()) else {
                    return HookOutcome::failed(
                        "UNLOCK TABLES: no locked connection from the pre edge",
                    );
                };
                match tokio::time::timeout(timeout, Self::unlock(*conn)).await {
                    Ok(Ok(())) => HookOutcome::ok(),
                    Ok(Err(e)) => HookOutcome::failed(format!("UNLOCK TABLES: {e}")),
                    // Dropping the connection ends the session, which releases the lock too.
                    Err(_) => {
                        HookOutcome::failed(format!("UNLOCK TABLES timed out after {timeout:?}"))
                    }
                }
            }
        }
    }
}
