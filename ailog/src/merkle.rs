//! The RFC 9162 §2.1 Merkle tree over record leaf hashes: tree heads, inclusion proofs, and their
//! verification.
//!
//! Two representations:
//! - [`Frontier`]: the roots of the perfect subtrees that make up a tree of size n (one per set
//!   bit of n, at most 64 hashes). Enough to append and to compute the current root, so the
//!   appender and the verifier stream any number of records in constant memory.
//! - [`MerkleTree`]: every complete node, level by level (about 2n hashes). Needed to produce
//!   inclusion proofs, for exports; also gives the root of any prefix (an older checkpoint).
//!
//! Both agree with RFC 9162's recursive definition `MTH(D[n]) = H(0x01 ‖ MTH(D[0:k]) ‖
//! MTH(D[k:n]))`, k the largest power of two below n: the tests check them against it and
//! against the RFC 6962 reference vectors.

use crate::hash::{node_hash, Digest};
use crate::Error;

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Digest {
    Digest::sha256(b"")
}

/// The roots of the perfect subtrees of a tree, biggest (leftmost) first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Digest>,
}

impl Frontier {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_leaves<'a>(leaves: impl IntoIterator<Item = &'a Digest>) -> Self {
        let mut frontier = Self::new();
        for leaf in leaves {
            frontier.push(*leaf);
        }
        frontier
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Digest) {
        self.peaks.push(leaf);
        // Each trailing one bit of the old size is a perfect subtree of the same height as the
        // new one on its right: merge them, like carrying in binary addition.
        let mut carries = self.size;
        while carries & 1 == 1 {
            let (Some(right), Some(left)) = (self.peaks.pop(), self.peaks.pop()) else { unreachable!("one peak per set bit of size") };
            self.peaks.push(node_hash(&left, &right));
            carries >>= 1;
        }
        self.size += 1;
    }

    /// The tree head of the current size.
    pub fn root(&self) -> Digest {
        let mut peaks = self.peaks.iter().rev();
        let Some(first) = peaks.next() else { return empty_root() };
        peaks.fold(*first, |acc, left| node_hash(left, &acc))
    }
}

/// All complete nodes of a tree: `levels[0]` the leaves, `levels[h][i]` the root of leaves
/// `[i·2^h, (i+1)·2^h)`.
#[derive(Debug, Clone)]
pub struct MerkleTree {
    levels: Vec<Vec<Digest>>,
}

impl MerkleTree {
    pub fn from_leaves(leaves: Vec<Digest>) -> Self {
        let mut levels = vec![leaves];
        while let Some(last) = levels.last().filter(|l| l.len() > 1) {
            let next = last.chunks_exact(2).map(|pair| node_hash(&pair[0], &pair[1])).collect();
            levels.push(next);
        }
        Self { levels }
    }

    pub fn size(&self) -> u64 {
        self.levels[0].len() as u64
    }

    pub fn leaf(&self, index: u64) -> Option<Digest> {
        usize::try_from(index).ok().and_then(|i| self.levels[0].get(i).copied())
    }

    pub fn root(&self) -> Digest {
        self.subtree(0, self.size())
    }

    /// The root of the tree of the first `size` leaves (the head an older checkpoint signed).
    pub fn root_at(&self, size: u64) -> Result<Digest, Error> {
        if size > self.size() {
            return Err(Error::Proof("tree size beyond the tree"));
        }
        Ok(self.subtree(0, size))
    }

    /// RFC 9162 §2.1.3.1 `PATH(m, D[n])`: the audit path of leaf `index` in the tree of the first
    /// `size` leaves, bottom up.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Digest>, Error> {
        if size > self.size() {
            return Err(Error::Proof("tree size beyond the tree"));
        }
        if index >= size {
            return Err(Error::Proof("leaf index not below the tree size"));
        }
        let mut path = Vec::new();
        self.path(index, 0, size, &mut path);
        Ok(path)
    }

    fn path(&self, index: u64, start: u64, len: u64, out: &mut Vec<Digest>) {
        if len <= 1 {
            return;
        }
        let k = split(len);
        if index < k {
            self.path(index, start, k, out);
            out.push(self.subtree(start + k, len - k));
        } else {
            self.path(index - k, start + k, len - k, out);
            out.push(self.subtree(start, k));
        }
    }

    /// `MTH(D[start : start + len])`. Every range the RFC's recursion asks for starts at a
    /// multiple of its left part's size, so perfect parts are read straight from `levels`.
    fn subtree(&self, start: u64, len: u64) -> Digest {
        if len == 0 {
            return empty_root();
        }
        if len.is_power_of_two() {
            let height = len.trailing_zeros() as usize;
            let index = usize::try_from(start >> height).unwrap_or(usize::MAX);
            if let Some(node) = self.levels.get(height).and_then(|level| level.get(index)) {
                return *node;
            }
        }
        let k = split(len);
        node_hash(&self.subtree(start, k), &self.subtree(start + k, len - k))
    }
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// RFC 9162 §2.1.3.2: does `proof` show that `leaf` is leaf `index` of the tree of `size`
/// leaves whose root is `root`?
pub fn verify_inclusion(leaf: &Digest, index: u64, size: u64, proof: &[Digest], root: &Digest) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    /// RFC 9162's definition, written as literally as possible.
    fn mth(leaves: &[Digest]) -> Digest {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn reference_path(m: usize, leaves: &[Digest]) -> Vec<Digest> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split(n as u64) as usize;
        if m < k {
            let mut p = reference_path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = reference_path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    fn hex(h: &str) -> Digest {
        Digest::parse_hex(h).expect("test vector")
    }

    fn rfc_leaves() -> Vec<Digest> {
        let data: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
        ];
        data.iter().map(|d| leaf_hash(d)).collect()
    }

    /// The reference vectors of RFC 6962's test suite (certificate-transparency), which RFC 9162
    /// keeps: tree heads for sizes 0..=8 and four inclusion proofs.
    #[test]
    fn rfc_6962_reference_vectors() {
        let roots = [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let leaves = rfc_leaves();
        let tree = MerkleTree::from_leaves(leaves.clone());
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), hex(roots[0]));
        for (n, root) in roots.iter().enumerate().skip(1) {
            frontier.push(leaves[n - 1]);
            assert_eq!(frontier.root(), hex(root), "frontier, size {n}");
            assert_eq!(tree.root_at(n as u64), Ok(hex(root)), "tree, size {n}");
        }
        let vectors: [(u64, u64, &[&str]); 4] = [
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (index, size, expected) in vectors {
            let expected: Vec<Digest> = expected.iter().map(|h| hex(h)).collect();
            assert_eq!(tree.inclusion_proof(index, size).as_ref(), Ok(&expected), "leaf {index} of {size}");
            let root = hex(roots[size as usize]);
            assert!(verify_inclusion(&leaves[index as usize], index, size, &expected, &root));
        }
    }

    #[test]
    fn every_proof_of_every_size_matches_the_definition_and_verifies() {
        let leaves: Vec<Digest> = (0u32..70).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let tree = MerkleTree::from_leaves(leaves.clone());
        for size in 1..=leaves.len() {
            let root = mth(&leaves[..size]);
            assert_eq!(tree.root_at(size as u64), Ok(root));
            assert_eq!(Frontier::from_leaves(&leaves[..size]).root(), root);
            for index in 0..size {
                let proof = tree.inclusion_proof(index as u64, size as u64).expect("in range");
                assert_eq!(proof, reference_path(index, &leaves[..size]));
                assert!(verify_inclusion(&leaves[index], index as u64, size as u64, &proof, &root));
                // Wrong leaf, index, root, or any path element: refused.
                assert!(!verify_inclusion(&leaves[(index + 1) % size], index as u64, size as u64, &proof, &root) || size == 1);
                assert!(!verify_inclusion(&leaves[index], index as u64 + 1, size as u64, &proof, &root));
                // (The tree size is not bound by the proof alone, sometimes a neighbouring size
                // has a path of the same shape: it comes from the signed checkpoint.)
                assert!(!verify_inclusion(&leaves[index], index as u64, size as u64, &proof, &empty_root()));
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i] = leaf_hash(b"forged");
                    assert!(!verify_inclusion(&leaves[index], index as u64, size as u64, &bad, &root));
                }
                let mut longer = proof.clone();
                longer.push(root);
                assert!(!verify_inclusion(&leaves[index], index as u64, size as u64, &longer, &root));
            }
        }
        assert!(tree.inclusion_proof(3, 3).is_err());
        assert!(tree.inclusion_proof(0, 71).is_err());
    }
}
