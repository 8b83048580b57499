//! The lock recipe PostgreSQL and MariaDB share. Both lock on the client's
//! own connection (a session advisory lock, `GET_LOCK`), which the server
//! gives back when the connection ends and the client only learns so on its
//! next statement; neither has a lease, so `--ttl` does not apply
//! ([`no_lease`]). A client is one dedicated connection ([`SqlClient`]):
//! acquire takes the lock and a token from a counter the database keeps (in
//! the same statement where it can), release gives it back, and an election
//! locks `election/<name>` and files its term in a table for observers.
//! What differs is the system's [`Dialect`]: its connection, its statements
//! and how its server's error replies read ([`ServerSaid`]).

use std::future::Future;
use std::time::Duration;

use node::Node;
use sqlx::error::DatabaseError;

use super::{BoxFuture, Connect, Error, Seat};
use crate::client::{deadline, ClientOptions, ElectionClient, Grant, Leader, Leadership, LockClient, Outcome};

/// What a database's error reply says about the statement it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerSaid {
    /// Refused before it could take or give back a lock.
    Refused,
    /// The server is ending this session, and with it the session's locks.
    SessionEnded,
    /// It may have run part way: session locks are not transactional, so an
    /// error after `pg_try_advisory_lock` or `GET_LOCK` succeeded does not
    /// give the lock back.
    Unknown,
}

/// Maps a sqlx error to an outcome, asking `said` what a database error
/// means. Errors raised in the client before anything was sent are `Fail`;
/// I/O, protocol, decoding (the statement ran) and the rest are unknown.
pub(crate) fn classify_with<T>(e: sqlx::Error, said: impl FnOnce(&dyn DatabaseError) -> ServerSaid) -> Outcome<T> {
    let verdict = match &e {
        sqlx::Error::Database(db) => said(db.as_ref()),
        sqlx::Error::Configuration(_)
        | sqlx::Error::InvalidArgument(_)
        | sqlx::Error::Encode(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed => ServerSaid::Refused,
        _ => ServerSaid::Unknown,
    };
    match verdict {
        ServerSaid::Refused => Outcome::Fail(e.to_string()),
        ServerSaid::SessionEnded => Outcome::SessionLost(e.to_string()),
        ServerSaid::Unknown => Outcome::Info(e.to_string()),
    }
}

/// [`classify_with`] as `D`'s server means its replies.
pub(crate) fn classify<D: Dialect, T>(e: sqlx::Error) -> Outcome<T> {
    classify_with(e, D::said)
}

/// The note for locks that belong to a connection (`locks`: whose, in words).
pub(crate) fn no_lease(locks: &str) -> String {
    format!(
        "{locks} belong to the client's session and have no lease: --ttl is ignored; a lock lasts until it is \
         released or its connection ends (which the server may notice late)"
    )
}

/// What one SQL system says in its own statements. A lock is named by its
/// key: `<key>` for a lock, `election/<name>` for an election.
pub trait Dialect: Sized + Send + Sync + 'static {
    /// One client's connection: the locks belong to it.
    type Conn: Send + 'static;
    /// The locks, in words, for [`no_lease`].
    const LOCKS: &'static str;

    /// A dedicated connection to the server.
    fn open(node: &Node) -> impl Future<Output = Result<Self::Conn, Error>> + Send + '_;
    /// Creates the counter and tables the recipes use.
    fn prepare(conn: &mut Self::Conn) -> impl Future<Output = Result<(), Error>> + Send + '_;
    /// `SELECT 1`'s answer, for the probe.
    fn select_one(conn: &mut Self::Conn) -> impl Future<Output = Result<i64, sqlx::Error>> + Send + '_;
    /// What an error reply from the server says.
    fn said(db: &dyn DatabaseError) -> ServerSaid;
    /// The recipe's own name for lock `key`: what a grant or leadership
    /// keeps as its handle.
    fn handle(key: &str) -> String;

    /// Takes lock `key` on this connection, waiting up to `wait` for it:
    /// `Ok` with the token where the same statement took one, `Fail` when
    /// another connection holds it.
    fn lock<'a>(
        conn: &'a mut Self::Conn,
        key: &'a str,
        wait: Duration,
    ) -> impl Future<Output = Outcome<Option<i64>>> + Send + 'a;
    /// The next token from the counter.
    fn next_token(conn: &mut Self::Conn) -> impl Future<Output = Result<i64, sqlx::Error>> + Send + '_;
    /// Gives lock `key` back: `Fail` when this connection did not hold it.
    fn unlock<'a>(conn: &'a mut Self::Conn, key: &'a str) -> impl Future<Output = Outcome<()>> + Send + 'a;

    /// Campaigns for `name` as candidate `id` (waiting up to the client's
    /// `acquire_wait`): the term, filed for observers.
    fn campaign<'a>(
        client: &'a mut SqlClient<Self>,
        name: &'a str,
        id: &'a str,
    ) -> impl Future<Output = Outcome<i64>> + Send + 'a;
    /// Unfiles the term, then gives the election's lock back.
    fn resign<'a>(
        client: &'a mut SqlClient<Self>,
        leadership: &'a Leadership,
    ) -> impl Future<Output = Outcome<()>> + Send + 'a;
    /// Who holds election `name`'s lock, and the term they filed.
    fn leader<'a>(conn: &'a mut Self::Conn, name: &'a str)
        -> impl Future<Output = Outcome<Option<Leader>>> + Send + 'a;
}

/// One real request to this member: a fresh connection and `SELECT 1`.
pub(crate) async fn probe<D: Dialect>(node: &Node) -> Result<(), Error> {
    let mut conn = D::open(node).await?;
    let one = D::select_one(&mut conn).await?;
    if one == 1 {
        Ok(())
    } else {
        Err(Error::UnexpectedAnswer { request: "SELECT 1", answer: one.to_string() })
    }
}

/// One process's lock and election client: a dedicated connection to the
/// system's one server.
pub struct SqlClient<D: Dialect> {
    pub(crate) conn: D::Conn,
    pub(crate) node: String,
    pub(crate) options: ClientOptions,
}

impl<D: Dialect> Connect for SqlClient<D> {
    async fn connect(seat: Seat<'_>) -> Result<SqlClient<D>, Error> {
        let node = seat.server();
        let mut conn = D::open(node).await?;
        D::prepare(&mut conn).await?;
        Ok(SqlClient { conn, node: node.name().to_string(), options: seat.options.clone() })
    }
}

impl<D: Dialect> LockClient for SqlClient<D> {
    fn acquire<'a>(&'a mut self, key: &'a str, _ttl: Duration) -> BoxFuture<'a, Outcome<Grant>> {
        Box::pin(async move {
            let (wait, timeout) = (self.options.acquire_wait, self.options.timeout);
            let locked = deadline(wait + timeout, D::lock(&mut self.conn, key, wait)).await;
            let token = match locked.into_value() {
                Ok(Some(token)) => Outcome::Ok(token),
                // Held without a token: retire if none can be taken now;
                // dropping the connection releases the lock.
                Ok(None) => deadline(timeout, async {
                    D::next_token(&mut self.conn)
                        .await
                        .map_or_else(|e| classify::<D, _>(e).context("locked, but taking a token failed"), Outcome::Ok)
                })
                .await
                .unknown_unless_ok(),
                Err(other) => return other,
            };
            token.map(|token| Grant::new(key, Some(token), Some(&self.node), D::handle(key)))
        })
    }

    fn release<'a>(&'a mut self, grant: &'a Grant) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(deadline(self.options.timeout, D::unlock(&mut self.conn, &grant.key)))
    }
}

impl<D: Dialect> ElectionClient for SqlClient<D> {
    fn campaign<'a>(&'a mut self, name: &'a str, id: &'a str, _ttl: Duration) -> BoxFuture<'a, Outcome<Leadership>> {
        Box::pin(async move {
            let term = D::campaign(self, name, id).await;
            let handle = D::handle(&format!("election/{name}"));
            term.map(|term| Leadership::new(name, term, Some(&self.node), handle))
        })
    }

    fn resign<'a>(&'a mut self, leadership: &'a Leadership) -> BoxFuture<'a, Outcome<()>> {
        Box::pin(D::resign(self, leadership))
    }

    fn leader<'a>(&'a mut self, name: &'a str) -> BoxFuture<'a, Outcome<Option<Leader>>> {
        Box::pin(deadline(self.options.timeout, D::leader(&mut self.conn, name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(e: sqlx::Error, said: ServerSaid) -> &'static str {
        match classify_with::<()>(e, |_| said) {
            Outcome::Ok(()) => "ok",
            Outcome::Fail(_) | Outcome::Busy(_) => "fail",
            Outcome::Info(_) => "info",
            Outcome::SessionLost(_) => "session-lost",
            Outcome::Undone(_) => "undone",
        }
    }

    #[test]
    fn client_side_errors() {
        let io = || sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into());
        assert_eq!(outcome(io(), ServerSaid::Refused), "info", "only a database error asks the server's verdict");
        assert_eq!(outcome(sqlx::Error::Protocol("garbled".into()), ServerSaid::Refused), "info");
        assert_eq!(outcome(sqlx::Error::RowNotFound, ServerSaid::Refused), "info");
        assert_eq!(outcome(sqlx::Error::InvalidArgument("bad".into()), ServerSaid::Unknown), "fail");
        assert_eq!(outcome(sqlx::Error::PoolTimedOut, ServerSaid::Unknown), "fail");
    }
}
