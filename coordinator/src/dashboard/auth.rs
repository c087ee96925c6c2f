//! Dashboard sessions: a login token derived from the cluster token, exchanged once for a random session cookie.
use std::collections::HashSet;
use std::sync::Mutex;

/// The cookie's name.
pub(super) const COOKIE: &str = "forgebench_session";
/// Most sessions kept; the oldest half is forgotten past it (their browsers sign in again with the link).
const MAX_SESSIONS: usize = 1024;

/// The dashboard's login token for a cluster token: BLAKE3's key derivation with a context of its own, so the link
/// reveals nothing of the cluster token.
pub fn login_token(cluster_token: &str) -> String {
    hex::encode(blake3::derive_key(
        "forgebench dashboard login v1",
        cluster_token.as_bytes(),
    ))
}

/// Open sessions (in memory: a restarted coordinator asks browsers to sign in again).
#[derive(Default)]
pub(super) struct Sessions {
    open: Mutex<(HashSet<String>, Vec<String>)>,
}

/// Compares in constant time (BLAKE3 hashes compare so), so a wrong token's timing says nothing about the right one.
pub(super) fn same(a: &str, b: &str) -> bool {
    blake3::hash(a.as_bytes()) == blake3::hash(b.as_bytes())
}

impl Sessions {
    /// A new session id.
    pub fn open(&self) -> String {
        let id = hex::encode(rand::random::<[u8; 32]>());
        let mut g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if g.1.len() >= MAX_SESSIONS {
            let old: Vec<String> = g.1.drain(..MAX_SESSIONS / 2).collect();
            old.iter().for_each(|o| {
                g.0.remove(o);
            });
        }
        g.0.insert(id.clone());
        g.1.push(id.clone());
        id
    }

    /// Whether a request's Cookie header carries an open session.
    pub fn valid(&self, cookie_header: Option<&str>) -> bool {
        let Some(h) = cookie_header else { return false };
        let g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        h.split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .any(|(k, v)| k == COOKIE && g.0.iter().any(|s| same(s, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_need_their_cookie() {
        let s = Sessions::default();
        let id = s.open();
        assert!(s.valid(Some(&format!("a=b; {COOKIE}={id}"))));
        assert!(!s.valid(Some(&format!("{COOKIE}=x{id}"))));
        assert!(!s.valid(None));
        assert_ne!(login_token("t"), login_token("u"));
        assert_eq!(login_token("t").len(), 64);
    }
}
