//! PostgreSQL: one server; locks are session advisory locks.

use docker::Node;
use sqlx::{Connection, PgConnection};

use super::{client_address, BoxFuture, System};

pub const PORT: u16 = 5432;

pub struct Postgres;

/// A dedicated session (advisory locks belong to the session that took them).
pub async fn connect(node: &Node) -> Result<PgConnection, String> {
    let address = client_address(node, PORT)?;
    PgConnection::connect(&format!("postgres://postgres@{address}/postgres?connect_timeout=2"))
        .await
        .map_err(|e| e.to_string())
}

impl System for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }
    fn image(&self) -> &'static str {
        "postgres"
    }
    fn nodes(&self) -> usize {
        1
    }
    fn ports(&self) -> &'static [u16] {
        &[PORT]
    }
    fn describe(&self) -> &'static str {
        "one PostgreSQL 15 server, session advisory locks"
    }
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut conn = connect(node).await?;
            let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut conn).await.map_err(|e| e.to_string())?;
            if one == 1 {
                Ok(())
            } else {
                Err(format!("SELECT 1 returned {one}"))
            }
        })
    }
}
