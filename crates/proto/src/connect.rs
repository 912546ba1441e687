//! The CONNECT JSON a client sends.

use serde::Deserialize;

/// The client's connection options. Absent fields keep nats-server's server-side
/// defaults (`verbose`, `pedantic` and `echo` true); fields of the wrong JSON type make
/// the whole CONNECT invalid, as Go's decoder does.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ConnectOptions {
    pub verbose: bool,
    pub pedantic: bool,
    pub tls_required: bool,
    pub echo: bool,
    pub headers: bool,
    pub no_responders: bool,
    pub protocol: i64,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub auth_token: Option<String>,
    pub nkey: Option<String>,
    pub sig: Option<String>,
    pub jwt: Option<String>,
    pub account: Option<String>,
    pub new_account: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            verbose: true,
            pedantic: true,
            tls_required: false,
            echo: true,
            headers: false,
            no_responders: false,
            protocol: 0,
            name: None,
            lang: None,
            version: None,
            user: None,
            pass: None,
            auth_token: None,
            nkey: None,
            sig: None,
            jwt: None,
            account: None,
            new_account: false,
        }
    }
}

impl ConnectOptions {
    /// Decodes the CONNECT argument as Go's decoder would: an object, or `null` (which
    /// leaves the defaults); anything else is an error.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        let trimmed = json.trim_ascii();
        if trimmed == b"null" {
            return Ok(Self::default());
        }
        if !trimmed.starts_with(b"{") {
            return Err(serde::de::Error::custom(
                "CONNECT argument is not a JSON object",
            ));
        }
        serde_json::from_slice(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_absent_fields() {
        let c = ConnectOptions::from_json(br#"{"lang":"go"}"#).unwrap();
        assert!(c.verbose && c.pedantic && c.echo);
        assert!(!c.headers);
        assert_eq!(c.lang.as_deref(), Some("go"));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let c = ConnectOptions::from_json(br#"{"verbose":false,"whatever":[1,2]}"#).unwrap();
        assert!(!c.verbose);
    }

    #[test]
    fn wrong_types_are_rejected() {
        assert!(ConnectOptions::from_json(br#"{"echo":"yes"}"#).is_err());
        assert!(ConnectOptions::from_json(br#"{"verbose":"false"}"#).is_err());
        assert!(ConnectOptions::from_json(b"{bad json}").is_err());
        assert!(ConnectOptions::from_json(b"").is_err());
        assert!(ConnectOptions::from_json(b"[]").is_err());
        assert!(ConnectOptions::from_json(b"[true]").is_err());
        assert_eq!(
            ConnectOptions::from_json(b" null ").unwrap(),
            ConnectOptions::default()
        );
    }
}
