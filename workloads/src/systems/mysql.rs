//! MySQL's locking API on MariaDB: one server, `GET_LOCK` per connection.
//!
//! Lock: `GET_LOCK(name, timeout)` on the client's own connection, then a
//! row in an `AUTO_INCREMENT` table whose id is the token. Like PostgreSQL's,
//! the lock is tied to the connection and silently released when it drops;
//! there is no lease, so `--ttl` does not apply.

use std::time::Duration;

use node::Node;
use sqlx::error::DatabaseError;
use sqlx::mysql::MySqlDatabaseError;
use sqlx::{Connection, MySqlConnection};

use super::sql::{self, Dialect, ServerSaid, SqlClient};
use super::{client_address, BoxFuture, Clients, Error, Layout, System};
use crate::client::{deadline, Leader, Leadership, Outcome};

pub const PORT: u16 = 3306;

pub struct Mysql;

pub const LAYOUT: Layout = Layout {
    name: "mariadb",
    image: "mysql",
    nodes: 1,
    ports: &[PORT],
    description: "one MariaDB 10.11 server, GET_LOCK per connection",
    names_leader: false,
    clock_refusal: None,
    durability_refusal: Some(
        "MariaDB's InnoDB writes its files with O_DIRECT and asynchronous I/O, which fencepost's LD_PRELOAD \
         durability shim cannot follow",
    ),
    data_file: Some("/var/lib/mysql/ib_logfile0"),
    member_refusal: Some("a single MariaDB server has no membership to change"),
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
    sql::classify::<Mysql, T>(e)
}

/// MariaDB's client: the shared SQL recipe in MariaDB's statements.
pub type MysqlLock = SqlClient<Mysql>;

/// Lock: `GET_LOCK(name, timeout)`, then a row in an `AUTO_INCREMENT`
/// table whose id is the token. Election: the leader is the connection
/// holding the election's named lock. A new leader takes a term from the
/// `AUTO_INCREMENT` table and files it under its connection id; observers
/// ask `IS_USED_LOCK` for the holder's connection id and look it up.
impl Dialect for Mysql {
    type Conn = MySqlConnection;
    const LOCKS: &'static str = "MariaDB GET_LOCK locks";

    async fn open(node: &Node) -> Result<MySqlConnection, Error> {
        connect(node).await
    }

    async fn prepare(conn: &mut MySqlConnection) -> Result<(), Error> {
        sqlx::query("CREATE TABLE IF NOT EXISTS fencepost_fence (id BIGINT AUTO_INCREMENT PRIMARY KEY)")
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS fencepost_leaders \
             (conn BIGINT PRIMARY KEY, candidate VARCHAR(64) NOT NULL, term BIGINT NOT NULL)",
        )
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn select_one(conn: &mut MySqlConnection) -> Result<i64, sqlx::Error> {
        // MariaDB types a literal as BIGINT.
        sqlx::query_scalar("SELECT 1").fetch_one(conn).await
    }

    fn said(db: &dyn DatabaseError) -> ServerSaid {
        match db.try_downcast_ref::<MySqlDatabaseError>() {
            Some(my) => mysql_said(my.number()),
            None => ServerSaid::Unknown,
        }
    }

    fn handle(key: &str) -> String {
        format!("fencepost/{key}")
    }

    async fn lock<'a>(conn: &'a mut MySqlConnection, key: &'a str, wait: Duration) -> Outcome<Option<i64>> {
        // GET_LOCK waits whole seconds (0: try once).
        let got: Result<Option<i64>, _> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
            .bind(Self::handle(key))
            .bind(wait.as_secs_f64().ceil() as i64)
            .fetch_one(conn)
            .await;
        match got {
            Ok(Some(1)) => Outcome::Ok(None),
            Ok(Some(_)) => Outcome::Busy("lock busy".into()),
            Ok(None) => Outcome::Fail("GET_LOCK returned NULL (error)".into()),
            Err(e) => classify(e),
        }
    }

    async fn next_token(conn: &mut MySqlConnection) -> Result<i64, sqlx::Error> {
        Ok(sqlx::query("INSERT INTO fencepost_fence () VALUES ()").execute(conn).await?.last_insert_id() as i64)
    }

    async fn unlock<'a>(conn: &'a mut MySqlConnection, key: &'a str) -> Outcome<()> {
        let released: Result<Option<i64>, _> =
            sqlx::query_scalar("SELECT RELEASE_LOCK(?)").bind(Self::handle(key)).fetch_one(conn).await;
        match released {
            Ok(Some(1)) => Outcome::Ok(()),
            Ok(Some(_)) => Outcome::Fail("the lock is held by another connection".into()),
            Ok(None) => Outcome::Fail("no such lock (released with a dropped connection?)".into()),
            Err(e) => classify(e),
        }
    }

    async fn campaign<'a>(client: &'a mut MysqlLock, name: &'a str, id: &'a str) -> Outcome<i64> {
        let lock = Self::handle(&format!("election/{name}"));
        let wait = client.options.acquire_wait;
        let conn = &mut client.conn;
        deadline(wait + client.options.timeout, async {
            let got: Result<Option<i64>, _> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
                .bind(&lock)
                .bind(wait.as_secs_f64().ceil() as i64)
                .fetch_one(&mut *conn)
                .await;
            match got {
                Ok(Some(1)) => {}
                Ok(_) => return Outcome::Busy("another connection leads".into()),
                Err(e) => return classify(e),
            }
            // Elected from here on: a failure leaves us leading unknown to
            // observers, so it is unknown (or the session is gone).
            let term = match Self::next_token(conn).await {
                Ok(term) => term,
                Err(e) => return classify(e).unknown_unless_ok().context("elected, taking a term failed"),
            };
            let filed =
                sqlx::query("REPLACE INTO fencepost_leaders (conn, candidate, term) VALUES (CONNECTION_ID(), ?, ?)")
                    .bind(id)
                    .bind(term)
                    .execute(&mut *conn)
                    .await;
            match filed {
                Ok(_) => Outcome::Ok(term),
                Err(e) => classify(e).unknown_unless_ok().context("elected, filing the term failed"),
            }
        })
        .await
    }

    async fn resign<'a>(client: &'a mut MysqlLock, leadership: &'a Leadership) -> Outcome<()> {
        // Unfile the term first, so that no observer pairs this
        // connection's next leadership with it.
        let timeout = client.options.timeout;
        let conn = &mut client.conn;
        let unfiled = deadline(timeout, async {
            match sqlx::query("DELETE FROM fencepost_leaders WHERE conn = CONNECTION_ID()").execute(&mut *conn).await {
                Ok(_) => Outcome::Ok(()),
                Err(e) => classify(e),
            }
        })
        .await;
        match unfiled {
            Outcome::Ok(()) => deadline(timeout, Self::unlock(conn, &format!("election/{}", leadership.name))).await,
            other => other,
        }
    }

    async fn leader<'a>(conn: &'a mut MySqlConnection, name: &'a str) -> Outcome<Option<Leader>> {
        let row: Result<Option<(String, i64)>, _> =
            sqlx::query_as("SELECT candidate, term FROM fencepost_leaders WHERE conn = IS_USED_LOCK(?)")
                .bind(Self::handle(&format!("election/{name}")))
                .fetch_optional(conn)
                .await;
        match row {
            Ok(row) => Outcome::Ok(row.map(|(id, term)| Leader { id, term: Some(term) })),
            Err(e) => classify(e),
        }
    }
}

impl System for Mysql {
    fn crash_patterns(&self) -> &'static [&'static str] {
        &["Assertion failure", "got signal", "[ERROR] Aborting", "[ERROR] InnoDB: Page", "[ERROR] InnoDB: Corruption"]
    }

    fn layout(&self) -> &'static Layout {
        &LAYOUT
    }
    fn ttl_note(&self, _ttl: Duration) -> Option<String> {
        Some(sql::no_lease(Self::LOCKS))
    }
    fn lease(&self, _ttl: Duration) -> Option<super::Lease> {
        None
    }
    fn probe<'a>(&'a self, node: &'a Node) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(sql::probe::<Mysql>(node))
    }
    fn clients(&self) -> Clients {
        Clients::both::<MysqlLock>()
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
    fn locks_are_named_under_fencepost() {
        // The names other connections (and IS_USED_LOCK) see.
        assert_eq!(Mysql::handle("k0"), "fencepost/k0");
        assert_eq!(Mysql::handle("election/e"), "fencepost/election/e");
    }

    #[test]
    fn no_lease_is_said() {
        assert!(Mysql.ttl_note(Duration::from_secs(5)).unwrap().contains("GET_LOCK"));
    }
}
