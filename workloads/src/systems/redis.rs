//! Redis: one server, no persistence (a restart forgets every lock).

use std::time::Duration;

use docker::Node;

use super::{client_address, BoxFuture, System};

pub const PORT: u16 = 6379;

pub struct Redis;

/// A multiplexed connection to one Redis node, through its published port.
pub async fn connect(node: &Node, timeout: Duration) -> Result<::redis::aio::MultiplexedConnection, String> {
    let address = client_address(node, PORT)?;
    let client = ::redis::Client::open(format!("redis://{address}/")).map_err(|e| e.to_string())?;
    let config =
        ::redis::AsyncConnectionConfig::new().set_connection_timeout(Some(timeout)).set_response_timeout(Some(timeout));
    client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| e.to_string())
}

/// PING through a fresh connection.
pub(crate) async fn ping(node: &Node) -> Result<(), String> {
    let mut conn = connect(node, Duration::from_secs(2)).await?;
    let pong: String = ::redis::cmd("PING").query_async(&mut conn).await.map_err(|e| e.to_string())?;
    if pong == "PONG" {
        Ok(())
    } else {
        Err(format!("PING answered {pong:?}"))
    }
}

impl System for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }
    fn image(&self) -> &'static str {
        "redis"
    }
    fn nodes(&self) -> usize {
        1
    }
    fn ports(&self) -> &'static [u16] {
        &[PORT]
    }
    fn describe(&self) -> &'static str {
        "one Redis server, no persistence"
    }
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(ping(node))
    }
}
