//! Disjoint-set forest with union by size and path halving (Tarjan 1975).
//!
//! The root of a set is not part of the dedup output (clusters are labelled by
//! their smallest member), so the union order cannot leak into results.

/// A union-find structure over `0..n`.
#[derive(Clone, Debug)]
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    /// `n` singleton sets.
    pub fn new(n: usize) -> Self {
        Self {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    /// The root of `x`'s set.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Merges the sets of `a` and `b`; returns `false` when already merged.
    pub fn union(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
        true
    }

    /// Size of `x`'s set.
    pub fn set_size(&mut self, x: u32) -> usize {
        let r = self.find(x);
        self.size[r as usize] as usize
    }

    /// For every element, the smallest element of its set (a canonical label).
    pub fn min_labels(&mut self) -> Vec<u32> {
        let n = self.parent.len();
        let mut root_min = vec![u32::MAX; n];
        for x in 0..n as u32 {
            let r = self.find(x) as usize;
            root_min[r] = root_min[r].min(x);
        }
        (0..n as u32)
            .map(|x| root_min[self.find(x) as usize])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_and_labels() {
        let mut uf = UnionFind::new(7);
        assert!(uf.union(5, 3));
        assert!(uf.union(3, 6));
        assert!(!uf.union(6, 5));
        assert!(uf.union(1, 2));
        assert_eq!(uf.set_size(6), 3);
        assert_eq!(uf.set_size(0), 1);
        assert_eq!(uf.min_labels(), vec![0, 1, 1, 3, 4, 3, 3]);
        assert_eq!(uf.find(5), uf.find(6));
        assert_ne!(uf.find(1), uf.find(3));
    }

    #[test]
    fn labels_do_not_depend_on_union_order() {
        let edges = [(0u32, 4u32), (4, 9), (2, 7), (7, 8), (9, 1)];
        let mut a = UnionFind::new(10);
        let mut b = UnionFind::new(10);
        for &(x, y) in &edges {
            a.union(x, y);
        }
        for &(x, y) in edges.iter().rev() {
            b.union(y, x);
        }
        assert_eq!(a.min_labels(), b.min_labels());
        assert_eq!(a.min_labels(), vec![0, 0, 2, 3, 0, 5, 6, 2, 2, 0]);
    }
}
