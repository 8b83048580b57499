//! Real-time precedence between operations, as a graph: `a → b` when `a`
//! returned before `b` was invoked. Only the covering edges are kept (the
//! Hasse diagram), which is what a person needs to read "what had to come
//! before what" around a failure. Used for explanations, never in the search.

use petgraph::graphmap::DiGraphMap;

/// Builds the covering precedence graph over `ops`, given as
/// `(id, invoke time, return time)`; a return of `u64::MAX` never precedes.
pub fn covering_graph(ops: &[(usize, u64, u64)]) -> DiGraphMap<usize, ()> {
    let mut g = DiGraphMap::new();
    for &(id, _, _) in ops {
        g.add_node(id);
    }
    let before = |a: &(usize, u64, u64), b: &(usize, u64, u64)| a.2 != u64::MAX && a.2 < b.1;
    for a in ops {
        for b in ops {
            if !before(a, b) {
                continue;
            }
            let covered = ops.iter().any(|c| before(a, c) && before(c, b));
            if !covered {
                g.add_edge(a.0, b.0, ());
            }
        }
    }
    g
}

/// Whether two intervals overlap (neither precedes the other).
pub fn concurrent(a: (u64, u64), b: (u64, u64)) -> bool {
    !(a.1 < b.0 || b.1 < a.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_covering_edges() {
        // 0 then 1 then 2 in sequence; 3 overlaps everything.
        let ops = [(0, 0, 1), (1, 2, 3), (2, 4, 5), (3, 0, 10)];
        let g = covering_graph(&ops);
        assert!(g.contains_edge(0, 1));
        assert!(g.contains_edge(1, 2));
        assert!(!g.contains_edge(0, 2), "implied by 0→1→2");
        assert_eq!(g.neighbors_directed(3, petgraph::Direction::Incoming).count(), 0);
        assert!(concurrent((0, 10), (4, 5)));
        assert!(!concurrent((0, 1), (2, 3)));
    }
}
