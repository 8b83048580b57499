//! MySQL's locking API on MariaDB: one server, `GET_LOCK` per connection.
//!
//! Lock: `GET_LOCK(name, timeout)` on the client's own connection, then a
//! row in an `AUTO_INCREMENT` table whose id is the token. Like PostgreSQL's,
//! the lock is tied to the connection and silently released when it drops;
//! there is no lease, so `--ttl` does not apply.

use std::time::Duration;

use node::Node;
use sqlx::mysql::MySqlDatabaseError;
use sqlx::{Connection, MySqlConnection};

use super::postgres::{classify_with, ServerSaid, NO_LEASE};
use super::{client_address, BoxFuture, Error, Layout, System};
use crate::client::{deadline, ClientOptions, ElectionClient, Grant, Leader, Leadership, LockClient, Outcome};

pub const PORT: u16 = 3306;

pub struct Mysql;

pub const LAYOUT: Layout = Layout {
    name: "mysql",
    image: "mysql",
    nodes: 1,
    ports: &[PORT],
    description: "one MariaDB 10.11 server, GET_LOCK per connection",
    names_leader: false,
    clock_refusal: None,
    node_env: &[],
};

/// A dedicated connection (`GET_LOCK` belongs to the connection).
pub async fn connect(node: &Node) -> Result<MySqlConnection, Error> {
    let address = client_address(node, PORT)?;
    Ok(MySqlConnection::connect(&format!("mysql://fencepost@{address}/fencepost")).await?)
}

/// What a MariaDB error number says. The server ends the connection, and
/// its `GET_LOCK` locks with it, on 1053 (server shutdown in progress) and
/// 1927 (connection killed). Refused before execution: 1064 (syntax), 1054
/// (unknown column), 1146 (no such table), 1044/1045/1142/1227 (access),
/// 1290/1792 (read-only), and 1205/1213 (a lock wait timed out or lost a
/// deadlock: not taken; InnoDB rolls the statement back).
pub(crate) fn mysql_said(number: u16) -> ServerSaid {
    match number {
        1053 | 1927 => ServerSaid::SessionEnded,
        1064 | 1054 | 1146 | 1044 | 1045 | 1142 | 1227 | 1290 | 1792 | 1205 | 1213 => ServerSaid::Refused,
        _ => ServerSaid::Unknown,
    }
}

fn classify<T>(e: sqlx::Error) -> Outcome<T> {
    classify_with(e, |db| match db.try_downcast_ref::<MySqlDatabaseError>() {
        Some(my) => mysql_said(my.number()),
        None => ServerSaid::Unknown,
    })
}

pub struct MysqlLock {
    conn: MySqlConnection,
    node: String,
    options: ClientOptions,
}

impl MysqlLock {
    pub async fn connect(node: &Node, options: &ClientOptions) -> Result<MysqlLock, Error> {
        let mut conn = connect(node).await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS fencepost_fence (id BIGINT AUTO_INCREMENT PRIMARY KEY)")
            .execute(&mut conn)
            .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS fencepost_leaders \
             (conn BIGINT PRIMARY KEY, candidate VARCHAR(64) NOT NULL, term BIGINT NOT NULL)",
        )
        .execute(&mut conn)
        .await?;
        Ok(MysqlLock { conn, node: node.name().to_string(), options: options.clone() })
    }
}

impl LockClient for MysqlLock {
    fn acquire<'a>(&'a mut self, key: &'a str, _ttl: Duration) -> BoxFuture<'a, Outcome<Grant>> {
        Box::pin(async move {
            let wait = self.options.acquire_wait;
            let name = format!("fencepost/{key}");
            let conn = &mut self.conn;
            let locked = deadline(wait + self.options.timeout, async {
                // GET_LOCK waits whole seconds (0: try once).
                let got: Result<Option<i64>, _> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
                    .bind(&name)
                    .bind(wait.as_secs_f64().ceil() as i64)
                    .fetch_one(&mut *conn)
                    .await;
                match got {
                    Ok(Some(1)) => Outcome::Ok(()),
                    Ok(Some(_)) => Outcome::Fail("lock busy".into()),
                    Ok(None) => Outcome::Fail("GET_LOCK returned NULL (error)".into()),
                    Err(e) => classify(e),
                }
            })
            .await;
            if let Err(other) = locked.into_value() {
                return other;
            }
            let conn = &mut self.conn;
            let token = deadline(self.options.timeout, async {
                match sqlx::query("INSERT INTO fencepost_fence () VALUES ()").execute(&mut *conn).await {
                    Ok(done) => Outcome::Ok(done.last_insert_id() as i64),
                    Err(e) => classify(e).context("locked, but taking a token failed"),
                }
            })
            .await;
            // Held without a token: retire; dropping the connection releases
            // the lock.
            let node = self.node.clone();
            token.unknown_unless_ok().map(|token| Grant::new(key, Some(token), Some(&node), name))
        })
    }

    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(async move {
            let conn = &mut self.conn;
            deadline(self.options.timeout, async {
                let released: Result<Option<i64>, _> =
                    sqlx::query_scalar("SELECT RELEASE_LOCK(?)").bind(&grant.handle).fetch_one(&mut *conn).await;
                match released {
                    Ok(Some(1)) => Outcome::Ok(()),
                    Ok(Some(_)) => Outcome::Fail("the lock is held by another connection".into()),
                    Ok(None) => Outcome::Fail("no such lock (released with a dropped connection?)".into()),
                    Err(e) => classify(e),
                }
            })
            .await
        })
    }
}

/// Election: the leader is the connection holding the election's named lock.
/// A new leader takes a term from the `AUTO_INCREMENT` table and files it
/// under its connection id; observers ask `IS_USED_LOCK` for the holder's
/// connection id and look it up.
impl ElectionClient for MysqlLock {
    fn campaign<'a>(&'a mut self, name: &'a str, id: &'a str, _ttl: Duration) -> BoxFuture<'a, Outcome<Leadership>> {
        Box::pin(async move {
            let lock = format!("fencepost/election/{name}");
            let wait = self.options.acquire_wait;
            let conn = &mut self.conn;
            let won = deadline(wait + self.options.timeout, async {
                let got: Result<Option<i64>, _> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
                    .bind(&lock)
                    .bind(wait.as_secs_f64().ceil() as i64)
                    .fetch_one(&mut *conn)
                    .await;
                match got {
                    Ok(Some(1)) => {}
                    Ok(_) => return Outcome::Fail("another connection leads".into()),
                    Err(e) => return classify(e),
                }
                // Elected from here on: a failure leaves us leading unknown to
                // observers, so it is unknown (or the session is gone).
                let term = match sqlx::query("INSERT INTO fencepost_fence () VALUES ()").execute(&mut *conn).await {
                    Ok(done) => done.last_insert_id() as i64,
                    Err(e) => return classify(e).unknown_unless_ok().context("elected, taking a term failed"),
                };
                let filed = sqlx::query(
                    "REPLACE INTO fencepost_leaders (conn, candidate, term) VALUES (CONNECTION_ID(), ?, ?)",
                )
                .bind(id)
                .bind(term)
                .execute(&mut *conn)
                .await;
                match filed {
                    Ok(_) => Outcome::Ok(term),
                    Err(e) => classify(e).unknown_unless_ok().context("elected, filing the term failed"),
                }
            })
            .await;
            let node = self.node.clone();
            won.map(|term| Leadership::new(name, term, Some(&node), lock))
        })
    }

    fn resign<'a>(&'a mut self, leadership: &'a Leadership) -> BoxFuture<'a, Outcome<()>> {
        let grant = Grant::new(&leadership.name, Some(leadership.term), None, leadership.handle.clone());
        Box::pin(async move {
            // Unfile the term first, so that no observer pairs this
            // connection's next leadership with it.
            let conn = &mut self.conn;
            let unfiled = deadline(self.options.timeout, async {
                match sqlx::query("DELETE FROM fencepost_leaders WHERE conn = CONNECTION_ID()")
                    .execute(&mut *conn)
                    .await
                {
                    Ok(_) => Outcome::Ok(()),
                    Err(e) => classify(e),
                }
            })
            .await;
            match unfiled {
                Outcome::Ok(()) => self.release(&grant).await,
                other => other,
            }
        })
    }

    fn leader<'a>(&'a mut self, name: &'a str) -> BoxFuture<'a, Outcome<Option<Leader>>> {
        Box::pin(async move {
            let lock = format!("fencepost/election/{name}");
            let conn = &mut self.conn;
            deadline(self.options.timeout, async {
                let row: Result<Option<(String, i64)>, _> =
                    sqlx::query_as("SELECT candidate, term FROM fencepost_leaders WHERE conn = IS_USED_LOCK(?)")
                        .bind(&lock)
                        .fetch_optional(&mut *conn)
                        .await;
                match row {
                    Ok(row) => Outcome::Ok(row.map(|(id, term)| Leader { id, term: Some(term) })),
                    Err(e) => classify(e),
                }
            })
            .await
        })
    }
}

impl System for Mysql {
    fn layout(&self) -> &'static Layout {
        &LAYOUT
    }
    fn ttl_note(&self, _ttl: Duration) -> Option<String> {
        Some(NO_LEASE.replace("{system}", "MariaDB GET_LOCK locks"))
    }
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut conn = connect(node).await?;
            // MariaDB types a literal as BIGINT.
            let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(&mut conn).await?;
            if one == 1 {
                Ok(())
            } else {
                Err(Error::UnexpectedAnswer { request: "SELECT 1", answer: one.to_string() })
            }
        })
    }
    fn lock_client<'a>(
        &'a self,
        nodes: &'a [Node],
        _process: u64,
        _slot: usize,
        options: &'a ClientOptions,
    ) -> BoxFuture<'a, Result<Box<dyn LockClient>, Error>> {
        Box::pin(async move { Ok(Box::new(MysqlLock::connect(&nodes[0], options).await?) as Box<dyn LockClient>) })
    }
    fn election_client<'a>(
        &'a self,
        nodes: &'a [Node],
        _process: u64,
        _slot: usize,
        options: &'a ClientOptions,
    ) -> BoxFuture<'a, Result<Box<dyn ElectionClient>, Error>> {
        Box::pin(async move { Ok(Box::new(MysqlLock::connect(&nodes[0], options).await?) as Box<dyn ElectionClient>) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_numbers() {
        assert_eq!(mysql_said(1053), ServerSaid::SessionEnded, "server shutdown in progress");
        assert_eq!(mysql_said(1927), ServerSaid::SessionEnded, "connection killed");
        for n in [1064, 1146, 1045, 1213, 1205, 1290] {
            assert_eq!(mysql_said(n), ServerSaid::Refused, "{n}");
        }
        for n in [1317, 1021, 1105, 2013] {
            assert_eq!(mysql_said(n), ServerSaid::Unknown, "{n}");
        }
    }

    #[test]
    fn no_lease_is_said() {
        assert!(Mysql.ttl_note(Duration::from_secs(5)).unwrap().contains("GET_LOCK"));
    }
}
