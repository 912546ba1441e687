//! Authentication of a CONNECT against the configured user/password or token.
//! Pure: the connection calls [`Authenticator::check`] and sends
//! `-ERR 'Authorization Violation'` on `false`.

use sluice_proto::ConnectOptions;

/// What a client must present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Authenticator {
    /// No authentication configured: every client is accepted.
    #[default]
    Open,
    Token(String),
    UserPassword {
        user: String,
        password: String,
    },
}

impl Authenticator {
    /// Builds the authenticator from configured credentials. A token wins over a user, as
    /// configuring both is rejected by nats-server and a token alone is the stricter
    /// reading.
    pub fn new(user: Option<&str>, password: Option<&str>, token: Option<&str>) -> Self {
        match (token, user) {
            (Some(t), _) => Authenticator::Token(t.to_owned()),
            (None, Some(u)) => Authenticator::UserPassword {
                user: u.to_owned(),
                password: password.unwrap_or_default().to_owned(),
            },
            (None, None) => Authenticator::Open,
        }
    }

    pub fn required(&self) -> bool {
        !matches!(self, Authenticator::Open)
    }

    /// Whether the client's CONNECT carries valid credentials.
    pub fn check(&self, connect: &ConnectOptions) -> bool {
        // nats-server rejects the legacy account fields outright.
        if connect.account.is_some() || connect.new_account {
            return false;
        }
        match self {
            Authenticator::Open => true,
            Authenticator::Token(token) => connect
                .auth_token
                .as_deref()
                .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes())),
            Authenticator::UserPassword { user, password } => {
                let user_ok = connect
                    .user
                    .as_deref()
                    .is_some_and(|u| constant_time_eq(u.as_bytes(), user.as_bytes()));
                let given = connect.pass.as_deref().unwrap_or_default();
                user_ok & password_matches(given, password)
            }
        }
    }
}

/// A configured password is either plain text or, as nats-server allows, a bcrypt hash
/// (`$2a$...`), which keeps plain passwords out of config files.
fn password_matches(given: &str, configured: &str) -> bool {
    if configured.starts_with("$2") {
        return bcrypt::verify(given, configured).unwrap_or(false);
    }
    constant_time_eq(given.as_bytes(), configured.as_bytes())
}

/// Compares secrets without an early exit, so timing does not leak the matching prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(user: Option<&str>, pass: Option<&str>, token: Option<&str>) -> ConnectOptions {
        ConnectOptions {
            user: user.map(Into::into),
            pass: pass.map(Into::into),
            auth_token: token.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn open_accepts_anyone() {
        let a = Authenticator::new(None, None, None);
        assert!(!a.required());
        assert!(a.check(&connect(None, None, None)));
        assert!(a.check(&connect(Some("x"), Some("y"), None)));
    }

    #[test]
    fn user_password() {
        let a = Authenticator::new(Some("u"), Some("p"), None);
        assert!(a.required());
        assert!(a.check(&connect(Some("u"), Some("p"), None)));
        assert!(!a.check(&connect(Some("u"), Some("q"), None)));
        assert!(!a.check(&connect(Some("v"), Some("p"), None)));
        assert!(!a.check(&connect(None, None, None)));
        assert!(!a.check(&connect(None, None, Some("p"))));
    }

    #[test]
    fn bcrypt_password() {
        let hash = bcrypt::hash("p", 4).unwrap();
        let a = Authenticator::new(Some("u"), Some(&hash), None);
        assert!(a.check(&connect(Some("u"), Some("p"), None)));
        assert!(!a.check(&connect(Some("u"), Some("q"), None)));
        assert!(!a.check(&connect(Some("u"), Some(&hash), None)));
    }

    #[test]
    fn token() {
        let a = Authenticator::new(None, None, Some("s3cr3t"));
        assert!(a.check(&connect(None, None, Some("s3cr3t"))));
        assert!(!a.check(&connect(None, None, Some("s3cr3"))));
        assert!(!a.check(&connect(Some("s3cr3t"), None, None)));
    }

    #[test]
    fn legacy_account_field_is_refused() {
        let mut c = connect(None, None, None);
        c.account = Some("A".into());
        assert!(!Authenticator::Open.check(&c));
    }
}
