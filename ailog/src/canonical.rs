//! The canonical encoding of records: a deliberately small subset of JSON written the RFC 8785
//! (JCS) way, so that one record has exactly one byte string and a verifier in any language can
//! reproduce it.
//!
//! The subset: objects, strings, booleans and integers in ±(2^53 − 1). No floating-point numbers
//! (their shortest-form printing is where JSON canonicalisers disagree: metrics such as a
//! log-probability are stored as fixed-point integers, e.g. `avg_logprob_micro`), no arrays, no
//! `null` (an absent value is an absent key). Keys are ASCII, so sorting them by byte equals
//! RFC 8785's sorting by UTF-16 code unit. No whitespace. Strings are UTF-8, escaped exactly as
//! RFC 8785 §3.2.2.2 says: `\"`, `\\`, `\b \f \n \r \t`, other controls as `\u00xx`, nothing else.
//!
//! Writing goes through our own writer rather than `serde_json::to_vec`: whether `serde_json`
//! keeps keys sorted depends on a cargo feature (`preserve_order`) that any crate in the build
//! could switch on, and a hash format must not hang on that.

use std::collections::BTreeMap;

/// The largest integer a canonical record may hold (I-JSON, RFC 7493 §2.2).
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// One value of the canonical subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canon {
    Bool(bool),
    Int(i64),
    Str(String),
    Obj(BTreeMap<String, Canon>),
}

impl Canon {
    pub fn obj() -> BTreeMap<String, Canon> {
        BTreeMap::new()
    }

    /// The canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Canon::Bool(true) => out.extend_from_slice(b"true"),
            Canon::Bool(false) => out.extend_from_slice(b"false"),
            Canon::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Canon::Str(s) => write_string(s, out),
            Canon::Obj(map) => {
                out.push(b'{');
                for (i, (key, value)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_string(key, out);
                    out.push(b':');
                    value.write(out);
                }
                out.push(b'}');
            }
        }
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\u{0c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if u32::from(c) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes()),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_compact_and_escaped_like_rfc_8785() {
        let mut inner = Canon::obj();
        inner.insert("b".into(), Canon::Bool(false));
        inner.insert("a".into(), Canon::Int(-7));
        let mut map = Canon::obj();
        map.insert("zeta".into(), Canon::Str("Žluťoučký \"kůň\"\n\u{1}\\/".into()));
        map.insert("alpha".into(), Canon::Obj(inner));
        map.insert("n".into(), Canon::Int(MAX_SAFE_INTEGER));
        let bytes = Canon::Obj(map).to_bytes();
        assert_eq!(
            std::str::from_utf8(&bytes).ok(),
            Some(r#"{"alpha":{"a":-7,"b":false},"n":9007199254740991,"zeta":"Žluťoučký \"kůň\"\n\u0001\\/"}"#)
        );
        // serde_json reads back exactly what we meant.
        let back: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(back["zeta"], "Žluťoučký \"kůň\"\n\u{1}\\/");
    }
}
