//! MySQL's locking API on MariaDB: one server, `GET_LOCK` per connection.

use docker::Node;
use sqlx::{Connection, MySqlConnection};

use super::{client_address, BoxFuture, System};

pub const PORT: u16 = 3306;

pub struct Mysql;

/// A dedicated connection (`GET_LOCK` belongs to the connection).
pub async fn connect(node: &Node) -> Result<MySqlConnection, String> {
    let address = client_address(node, PORT)?;
    MySqlConnection::connect(&format!("mysql://fencepost@{address}/fencepost")).await.map_err(|e| e.to_string())
}

impl System for Mysql {
    fn name(&self) -> &'static str {
        "mysql"
    }
    fn image(&self) -> &'static str {
        "mysql"
    }
    fn nodes(&self) -> usize {
        1
    }
    fn ports(&self) -> &'static [u16] {
        &[PORT]
    }
    fn describe(&self) -> &'static str {
        "one MariaDB 10.11 server, GET_LOCK per connection"
    }
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut conn = connect(node).await?;
            // MariaDB types a literal as BIGINT.
            let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(&mut conn).await.map_err(|e| e.to_string())?;
            if one == 1 {
                Ok(())
            } else {
                Err(format!("SELECT 1 returned {one}"))
            }
        })
    }
}
