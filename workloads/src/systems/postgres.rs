//! PostgreSQL: one server; locks are session advisory locks.
//!
//! Lock: `pg_try_advisory_lock(id)` on the client's own session (or, when
//! the client may wait, `pg_advisory_lock` under `lock_timeout`); the token
//! is `nextval` of a sequence, taken in the same statement. The lock belongs
//! to the session: if the connection drops, PostgreSQL releases it and the
//! client only learns so on its next statement. There is no lease: `--ttl`
//! does not apply (see [`System::ttl_note`]).

use std::time::Duration;

use node::Node;
use sqlx::error::DatabaseError;
use sqlx::postgres::{PgDatabaseError, PgSeverity};
use sqlx::{Connection, PgConnection};

use super::sql::{self, Dialect, ServerSaid, SqlClient};
use super::{client_address, BoxFuture, Clients, Error, Layout, System};
use crate::client::{deadline, Leader, Leadership, Outcome};

pub const PORT: u16 = 5432;

pub struct Postgres;

pub const LAYOUT: Layout = Layout {
    name: "postgres",
    image: "postgres",
    nodes: 1,
    ports: &[PORT],
    description: "one PostgreSQL 15 server, session advisory locks",
    names_leader: false,
    clock_refusal: None,
    durability_refusal: Some(
        "PostgreSQL's backends write files that another of its processes fsyncs, which fencepost's per-process \
         LD_PRELOAD durability shim cannot follow",
    ),
    data_file: Some("/var/lib/fencepost/pg/pg_wal/0*"),
    member_refusal: Some("a single PostgreSQL server has no membership to change"),
    node_env: &[],
};

/// A dedicated session (advisory locks belong to the session that took them).
pub async fn connect(node: &Node) -> Result<PgConnection, Error> {
    let address = client_address(node, PORT)?;
    Ok(PgConnection::connect(&format!("postgres://postgres@{address}/postgres?connect_timeout=2")).await?)
}

/// What a PostgreSQL error says. A `FATAL` (or `PANIC`) ends the backend,
/// whose exit releases its session locks: "terminating connection due to
/// unexpected postmaster exit" and "… due to administrator command" are
/// `57P01`, a crash of another backend `57P02`. Refused before execution:
/// class `42` (syntax, undefined objects: parse and plan time), `0A` (not
/// supported), `25P02` (the transaction is already aborted), and the two
/// ends of a lock wait, `55P03` (`lock_timeout`) and `40P01` (deadlock),
/// which leave the waited-for lock not taken.
pub(crate) fn postgres_said(severity: PgSeverity, code: &str) -> ServerSaid {
    if matches!(severity, PgSeverity::Fatal | PgSeverity::Panic) || code.starts_with("57P") {
        ServerSaid::SessionEnded
    } else if code.starts_with("42") || code.starts_with("0A") || matches!(code, "25P02" | "55P03" | "40P01") {
        ServerSaid::Refused
    } else {
        ServerSaid::Unknown
    }
}

fn classify<T>(e: sqlx::Error) -> Outcome<T> {
    sql::classify::<Postgres, T>(e)
}

/// Advisory locks take a 64-bit id: the FNV-1a hash of the key.
pub fn lock_id(key: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// PostgreSQL's client: the shared SQL recipe in PostgreSQL's statements.
pub type PostgresLock = SqlClient<Postgres>;

/// Lock: `pg_try_advisory_lock` (or `pg_advisory_lock` under
/// `lock_timeout` when the client may wait) with `nextval` of a sequence as
/// the token, in one statement. Election: the leader is the session holding
/// the election's advisory lock. A new leader takes its term from the
/// sequence and files it, with its id, in `fencepost_terms`; observers ask
/// `pg_locks` which session holds the lock and read that session's
/// `application_name` (the candidate id).
impl Dialect for Postgres {
    type Conn = PgConnection;
    const LOCKS: &'static str = "PostgreSQL advisory locks";

    async fn open(node: &Node) -> Result<PgConnection, Error> {
        connect(node).await
    }

    async fn prepare(conn: &mut PgConnection) -> Result<(), Error> {
        // Clients start concurrently and CREATE ... IF NOT EXISTS can still
        // race on the catalog; a loser's error is harmless.
        let _ = sqlx::query("CREATE SEQUENCE IF NOT EXISTS fencepost_fence").execute(&mut *conn).await;
        let _ = sqlx::query(
            "CREATE TABLE IF NOT EXISTS fencepost_terms (name text PRIMARY KEY, candidate text, term bigint)",
        )
        .execute(&mut *conn)
        .await;
        Ok(())
    }

    async fn select_one(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
        Ok(sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(conn).await?.into())
    }

    fn said(db: &dyn DatabaseError) -> ServerSaid {
        match db.try_downcast_ref::<PgDatabaseError>() {
            Some(pg) => postgres_said(pg.severity(), pg.code()),
            None => ServerSaid::Unknown,
        }
    }

    fn handle(key: &str) -> String {
        lock_id(key).to_string()
    }

    async fn lock<'a>(conn: &'a mut PgConnection, key: &'a str, wait: Duration) -> Outcome<Option<i64>> {
        let id = lock_id(key);
        let token: Result<Option<i64>, _> = if wait.is_zero() {
            sqlx::query_scalar("SELECT CASE WHEN pg_try_advisory_lock($1) THEN nextval('fencepost_fence') END")
                .bind(id)
                .fetch_one(&mut *conn)
                .await
        } else {
            let lock_timeout = format!("{}ms", wait.as_millis().max(1));
            let set = sqlx::query("SELECT set_config('lock_timeout', $1, false)").bind(lock_timeout);
            if let Err(e) = set.execute(&mut *conn).await {
                return classify(e);
            }
            sqlx::query_scalar("SELECT nextval('fencepost_fence') FROM (SELECT pg_advisory_lock($1)) AS locked")
                .bind(id)
                .fetch_one(&mut *conn)
                .await
        };
        match token {
            Ok(Some(token)) => Outcome::Ok(Some(token)),
            Ok(None) => Outcome::Busy("lock busy".into()),
            Err(e) => classify(e),
        }
    }

    async fn next_token(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT nextval('fencepost_fence')").fetch_one(conn).await
    }

    async fn unlock<'a>(conn: &'a mut PgConnection, key: &'a str) -> Outcome<()> {
        match sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)").bind(lock_id(key)).fetch_one(conn).await {
            Ok(true) => Outcome::Ok(()),
            Ok(false) => Outcome::Fail("this session does not hold the lock".into()),
            Err(e) => classify(e),
        }
    }

    async fn campaign<'a>(client: &'a mut PostgresLock, name: &'a str, id: &'a str) -> Outcome<i64> {
        let lock = lock_id(&format!("election/{name}"));
        let give_up = std::time::Instant::now() + client.options.acquire_wait;
        let timeout = client.options.timeout;
        loop {
            let conn = &mut client.conn;
            let won = deadline(timeout, async {
                let named = sqlx::query("SELECT set_config('application_name', $1, false)").bind(id);
                if let Err(e) = named.execute(&mut *conn).await {
                    return classify(e);
                }
                let term: Result<Option<i64>, _> =
                    sqlx::query_scalar("SELECT CASE WHEN pg_try_advisory_lock($1) THEN nextval('fencepost_fence') END")
                        .bind(lock)
                        .fetch_one(&mut *conn)
                        .await;
                let term = match term {
                    Ok(Some(term)) => term,
                    Ok(None) => return Outcome::Ok(None),
                    Err(e) => return classify(e),
                };
                let filed = sqlx::query(
                    "INSERT INTO fencepost_terms (name, candidate, term) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET candidate = $2, term = $3",
                )
                .bind(name)
                .bind(id)
                .bind(term)
                .execute(&mut *conn)
                .await;
                match filed {
                    Ok(_) => Outcome::Ok(Some(term)),
                    // Elected, but observers cannot learn the term: retire.
                    Err(e) => classify(e).unknown_unless_ok().context("elected, filing the term failed"),
                }
            })
            .await;
            match won {
                Outcome::Ok(Some(term)) => return Outcome::Ok(term),
                Outcome::Ok(None) if std::time::Instant::now() < give_up => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Outcome::Ok(None) => return Outcome::Busy("another session leads".into()),
                Outcome::Fail(e) => return Outcome::Fail(e),
                Outcome::Busy(e) => return Outcome::Busy(e),
                Outcome::Info(e) => return Outcome::Info(e),
                Outcome::SessionLost(e) => return Outcome::SessionLost(e),
                Outcome::Undone(e) => return Outcome::Undone(e),
            }
        }
    }

    async fn resign<'a>(client: &'a mut PostgresLock, leadership: &'a Leadership) -> Outcome<()> {
        let lock = lock_id(&format!("election/{}", leadership.name));
        let conn = &mut client.conn;
        deadline(client.options.timeout, async {
            // Unfile the term first, so that no observer pairs a later
            // leadership of the same candidate with this term.
            let unfiled = sqlx::query("DELETE FROM fencepost_terms WHERE name = $1 AND term = $2")
                .bind(&leadership.name)
                .bind(leadership.term)
                .execute(&mut *conn)
                .await;
            if let Err(e) = unfiled {
                return classify(e);
            }
            match sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)").bind(lock).fetch_one(&mut *conn).await
            {
                Ok(true) => Outcome::Ok(()),
                Ok(false) => Outcome::Fail("this session does not lead".into()),
                Err(e) => classify(e),
            }
        })
        .await
    }

    async fn leader<'a>(conn: &'a mut PgConnection, name: &'a str) -> Outcome<Option<Leader>> {
        let lock = lock_id(&format!("election/{name}"));
        // A bigint advisory key is stored as (classid, objid) = its high
        // and low 32 bits, with objsubid 1.
        let (high, low) = ((lock as u64 >> 32) as i64, (lock as u64 & 0xffff_ffff) as i64);
        let row: Result<Option<(String, Option<i64>)>, _> = sqlx::query_as(
            "SELECT a.application_name::text, t.term FROM pg_locks l \
             JOIN pg_stat_activity a ON a.pid = l.pid \
             LEFT JOIN fencepost_terms t ON t.name = $1 AND t.candidate = a.application_name \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.classid::bigint = $2 AND l.objid::bigint = $3",
        )
        .bind(name)
        .bind(high)
        .bind(low)
        .fetch_optional(conn)
        .await;
        match row {
            Ok(row) => Outcome::Ok(row.map(|(id, term)| Leader { id, term })),
            Err(e) => classify(e),
        }
    }
}

impl System for Postgres {
    fn crash_patterns(&self) -> &'static [&'static str] {
        &["PANIC:", "TRAP:", "could not locate a valid checkpoint record", "invalid checkpoint record"]
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
        Box::pin(sql::probe::<Postgres>(node))
    }
    fn clients(&self) -> Clients {
        Clients::both::<PostgresLock>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fatal_reply_ends_the_session() {
        // "terminating connection due to unexpected postmaster exit"
        assert_eq!(postgres_said(PgSeverity::Fatal, "57P01"), ServerSaid::SessionEnded);
        // "terminating connection because of crash of another server process"
        assert_eq!(postgres_said(PgSeverity::Fatal, "57P02"), ServerSaid::SessionEnded);
        assert_eq!(postgres_said(PgSeverity::Panic, "XX000"), ServerSaid::SessionEnded);
    }

    #[test]
    fn refusals_before_execution_and_aborted_lock_waits_are_refused() {
        for code in ["42601", "42P01", "42883", "0A000", "25P02", "55P03", "40P01"] {
            assert_eq!(postgres_said(PgSeverity::Error, code), ServerSaid::Refused, "{code}");
        }
    }

    #[test]
    fn errors_at_run_time_are_unknown() {
        // An error after the advisory lock was taken does not give it back.
        for code in ["22003", "53200", "57014", "XX000", "2200H"] {
            assert_eq!(postgres_said(PgSeverity::Error, code), ServerSaid::Unknown, "{code}");
        }
    }

    #[test]
    fn advisory_lock_ids_are_the_fnv1a_hash_of_the_key() {
        // What pg_locks shows and `leader` looks for.
        assert_eq!(lock_id(""), 0xcbf2_9ce4_8422_2325_u64 as i64);
        assert_eq!(Postgres::handle("election/e"), lock_id("election/e").to_string());
        assert_ne!(lock_id("k0"), lock_id("k1"));
    }

    #[test]
    fn no_lease_is_said() {
        assert!(Postgres.ttl_note(Duration::from_secs(5)).unwrap().contains("--ttl is ignored"));
    }
}
