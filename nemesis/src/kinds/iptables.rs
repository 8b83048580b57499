//! fencepost's own iptables chains, shared by the kinds that drop packets
//! (partitions, client partitions, loss): jumped to from INPUT and OUTPUT,
//! every rule a fault adds goes in them, so healing removes exactly
//! fencepost's rules and never one the host had (an SSH host's own firewall).

use futures_util::future::BoxFuture;
use node::Node;

use super::Undo;
use crate::nemesis::{exec, Nemesis};
use crate::Error;

pub(crate) const CHAIN_IN: &str = "fencepost-in";
pub(crate) const CHAIN_OUT: &str = "fencepost-out";
/// Creates the chains and their jumps if missing. `$0` is a TCP port no
/// fault may cut (sshd's, which the nemesis itself arrives through), or "".
const OWN_CHAINS: &str = r#"set -e
for pair in INPUT:fencepost-in:--dport OUTPUT:fencepost-out:--sport; do
  chain=${pair%%:*}; rest=${pair#*:}; own=${rest%%:*}; dir=${rest#*:}
  iptables -N "$own" 2>/dev/null || true
  iptables -C "$chain" -m comment --comment fencepost -j "$own" 2>/dev/null     || iptables -I "$chain" 1 -m comment --comment fencepost -j "$own"
  if [ -n "$0" ]; then
    iptables -C "$own" -p tcp "$dir" "$0" -j RETURN 2>/dev/null || iptables -I "$own" 1 -p tcp "$dir" "$0" -j RETURN
  fi
done"#;
/// Removes fencepost's chains and jumps, whatever is in them.
const DROP_CHAINS: &str = r#"for pair in INPUT:fencepost-in OUTPUT:fencepost-out; do
  chain=${pair%%:*}; own=${pair#*:}
  while iptables -D "$chain" -m comment --comment fencepost -j "$own" 2>/dev/null; do :; done
  iptables -F "$own" 2>/dev/null; iptables -X "$own" 2>/dev/null
done
true"#;

/// fencepost's chains on `node`, created if missing.
pub(crate) async fn own_chains(nemesis: &Nemesis, node: &Node) -> Result<(), Error> {
    let keep = node.control_port().map(|p| p.to_string()).unwrap_or_default();
    nemesis.run(node, &["sh", "-c", OWN_CHAINS, &keep]).await.map(|_| ())
}

/// Drops everything from and to `ip` inside `node` (its chains made).
pub(crate) async fn drop_peer(nemesis: &Nemesis, node: &Node, ip: &str) -> Result<(), Error> {
    nemesis.run(node, &["iptables", "-A", CHAIN_IN, "-s", ip, "-j", "DROP"]).await?;
    nemesis.run(node, &["iptables", "-A", CHAIN_OUT, "-d", ip, "-j", "DROP"]).await?;
    Ok(())
}

/// Why the cluster cannot take an iptables fault: a node that cannot list
/// its rules (no iptables, or not root).
pub(crate) async fn check(nemesis: &Nemesis) -> Result<Option<String>, Error> {
    for node in nemesis.nodes() {
        let out = exec(node, &["iptables", "-S", "INPUT"]).await?;
        if !out.success() {
            return Ok(Some(format!(
                "{} cannot list its iptables rules (is iptables installed, and are we root?): {}",
                node.name(),
                out.stderr.trim()
            )));
        }
    }
    Ok(None)
}

pub(crate) const UNDO: Undo = Undo { heal, leftovers };

fn heal<'a>(nemesis: &'a Nemesis, node: &'a Node) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move { nemesis.run(node, &["sh", "-c", DROP_CHAINS]).await.map(|_| ()) })
}

fn leftovers<'a>(nemesis: &'a Nemesis, node: &'a Node) -> BoxFuture<'a, Result<Vec<String>, Error>> {
    Box::pin(async move {
        let rules = nemesis.run(node, &["iptables", "-S"]).await?;
        let name = node.name();
        Ok(rules.lines().filter(|l| l.contains("fencepost")).map(|rule| format!("{name}: iptables {rule}")).collect())
    })
}
