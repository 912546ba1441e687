//! Server address parsing: `nats://[user[:pass]@]host[:port]`.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{bail, Context, Result};

/// Default NATS client port, used when the URL names none.
const DEFAULT_PORT: u16 = 4222;

/// Credentials carried in the URL's user-info part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `nats://token@host`
    Token(String),
    /// `nats://user:pass@host`
    UserPass(String, String),
}

/// Where a server listens and how to authenticate to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL exactly as given, for display and for the async-nats client.
    pub url: String,
    pub host: String,
    pub port: u16,
    pub auth: Auth,
}

impl Endpoint {
    /// Parses `nats://host:port`, `host:port` or `host`, with optional user-info.
    pub fn parse(url: &str) -> Result<Self> {
        let rest = match url.split_once("://") {
            Some((scheme, rest)) => {
                if !scheme.eq_ignore_ascii_case("nats") {
                    bail!(
                        "unsupported URL scheme {scheme:?} in {url:?} (only nats:// is supported)"
                    );
                }
                rest
            }
            None => url,
        };
        let rest = rest.trim_end_matches('/');
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((info, hostport)) => {
                let auth = match info.split_once(':') {
                    Some((user, pass)) => Auth::UserPass(user.to_owned(), pass.to_owned()),
                    None => Auth::Token(info.to_owned()),
                };
                (auth, hostport)
            }
            None => (Auth::None, rest),
        };
        let (host, port) = split_host_port(hostport)
            .with_context(|| format!("cannot parse host and port of {url:?}"))?;
        if host.is_empty() {
            bail!("no host in URL {url:?}");
        }
        Ok(Self {
            url: url.to_owned(),
            host,
            port,
            auth,
        })
    }

    /// Resolves the host to a socket address (the first one found).
    pub fn socket_addr(&self) -> Result<SocketAddr> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {}:{}", self.host, self.port))?
            .next()
            .with_context(|| format!("{}:{} resolves to no address", self.host, self.port))
    }
}

fn split_host_port(s: &str) -> Result<(String, u16)> {
    // Bracketed IPv6: [::1]:4222
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').context("unclosed '[' in host")?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().context("bad port")?,
            None if after.is_empty() => DEFAULT_PORT,
            None => bail!("unexpected text after ']'"),
        };
        return Ok((host.to_owned(), port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) => Ok((host.to_owned(), port.parse().context("bad port")?)),
        None => Ok((s.to_owned(), DEFAULT_PORT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let e = Endpoint::parse("nats://127.0.0.1:4322").expect("parse");
        assert_eq!(
            (e.host.as_str(), e.port, &e.auth),
            ("127.0.0.1", 4322, &Auth::None)
        );
        let e = Endpoint::parse("localhost").expect("parse");
        assert_eq!((e.host.as_str(), e.port), ("localhost", 4222));
        let e = Endpoint::parse("nats://u:p@h:1").expect("parse");
        assert_eq!(e.auth, Auth::UserPass("u".into(), "p".into()));
        let e = Endpoint::parse("nats://tok@h").expect("parse");
        assert_eq!(e.auth, Auth::Token("tok".into()));
        let e = Endpoint::parse("nats://[::1]:5").expect("parse");
        assert_eq!((e.host.as_str(), e.port), ("::1", 5));
        assert!(Endpoint::parse("http://h:1").is_err());
        assert!(Endpoint::parse("nats://h:notaport").is_err());
    }
}
