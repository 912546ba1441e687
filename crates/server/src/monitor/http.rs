//! The monitoring listener (hyper, HTTP/1.1), routing to the endpoints, query
//! parameters as nats-server reads them, and responses.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::json::parse_go_bool;
use super::{accountz, connz, healthz, jsz, metrics, subsz, varz};
use crate::server::ServerShared;

/// How long one monitoring connection may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// A response: status, content type, body.
pub struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Reply {
    /// Indented JSON, as nats-server writes it.
    pub fn json<T: serde::Serialize>(value: &T) -> Reply {
        Reply::json_with(StatusCode::OK, value)
    }

    pub fn json_with<T: serde::Serialize>(status: StatusCode, value: &T) -> Reply {
        match serde_json::to_vec_pretty(value) {
            Ok(body) => Reply {
                status,
                content_type: "application/json",
                body,
            },
            Err(e) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    }

    /// One-line JSON (`/healthz`).
    pub fn json_compact<T: serde::Serialize>(status: StatusCode, value: &T) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    /// A plain-text error (nats-server answers bad parameters with status 400 and the
    /// reason as the body).
    pub fn error(status: StatusCode, text: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes().to_vec(),
        }
    }
}

/// The query parameters of a request, decoded.
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(query: Option<&str>) -> Query {
        let mut map = HashMap::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            // The first value of a repeated key wins, as Go's `Query().Get`.
            map.entry(percent_decode(k))
                .or_insert_with(|| percent_decode(v));
        }
        Query(map)
    }

    pub fn get(&self, key: &str) -> &str {
        self.0.get(key).map_or("", String::as_str)
    }

    /// A boolean parameter (absent = false), or nats-server's 400 text.
    pub fn bool(&self, key: &str) -> Result<bool, Reply> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(false);
        }
        parse_go_bool(v).ok_or_else(|| {
            bad_request(&format!(
                "Error decoding boolean for '{key}': strconv.ParseBool: parsing \"{v}\": invalid syntax"
            ))
        })
    }

    /// An integer parameter (absent = 0), or nats-server's 400 text.
    pub fn int(&self, key: &str) -> Result<i64, Reply> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(0);
        }
        v.parse::<i64>().map_err(|_| {
            bad_request(&format!(
                "Error decoding int for '{key}': strconv.Atoi: parsing \"{v}\": invalid syntax"
            ))
        })
    }

    pub fn uint(&self, key: &str) -> Result<u64, Reply> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(0);
        }
        v.parse::<u64>().map_err(|_| {
            bad_request(&format!(
                "Error decoding uint64 for '{key}': strconv.ParseUint: parsing \"{v}\": invalid syntax"
            ))
        })
    }
}

pub fn bad_request(text: &str) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, text)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Binds the monitoring port if one is configured and serves it until `stop` changes.
/// Returns the bound address.
pub async fn start(
    shared: Arc<ServerShared>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<Option<SocketAddr>> {
    let opts = shared.options();
    let Some(port) = opts.http_port else {
        return Ok(None);
    };
    let host = opts.http_host.clone().unwrap_or_else(|| opts.host.clone());
    let port = if port < 0 { 0 } else { port as u16 };
    let listener = TcpListener::bind((host.as_str(), port)).await?;
    let addr = listener.local_addr()?;
    tracing::info!("Starting http monitor on {}:{}", host, addr.port());
    shared.monitor().set_addr(addr);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| {
                            let shared = shared.clone();
                            async move { Ok::<_, Infallible>(respond(&shared, req).await) }
                        });
                        let _ = http1::Builder::new()
                            .timer(hyper_util::rt::TokioTimer::new())
                            .header_read_timeout(HEADER_TIMEOUT)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            }
        }
    });
    Ok(Some(addr))
}

async fn respond(shared: &Arc<ServerShared>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = if req.method() != Method::GET && req.method() != Method::HEAD {
        Reply::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else {
        let query = Query::parse(req.uri().query());
        route(shared, req.uri().path(), &query).await
    };
    Response::builder()
        .status(reply.status)
        .header("Content-Type", reply.content_type)
        .header("Access-Control-Allow-Origin", "*")
        .body(Full::new(Bytes::from(reply.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// The endpoints, by path (with or without a trailing slash).
async fn route(shared: &Arc<ServerShared>, path: &str, q: &Query) -> Reply {
    let path = match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    let endpoint: &'static str = match path {
        "/" => "/",
        "/varz" => "/varz",
        "/connz" => "/connz",
        "/subsz" | "/subscriptionsz" => "/subsz",
        "/routez" => "/routez",
        "/gatewayz" => "/gatewayz",
        "/leafz" => "/leafz",
        "/accountz" => "/accountz",
        "/jsz" => "/jsz",
        "/healthz" => "/healthz",
        "/metrics" => "/metrics",
        _ => return Reply::error(StatusCode::NOT_FOUND, "404 page not found\n"),
    };
    let monitor = shared.monitor();
    monitor.count_request(endpoint);
    let result = match endpoint {
        "/" => Ok(index()),
        "/varz" => Ok(varz::varz(shared).await),
        "/connz" => connz::connz(shared, q),
        "/subsz" => subsz::subsz(shared, q),
        "/routez" => Ok(accountz::routez(shared)),
        "/gatewayz" => Ok(accountz::gatewayz(shared)),
        "/leafz" => Ok(accountz::leafz(shared)),
        "/accountz" => Ok(accountz::accountz(shared, q)),
        "/jsz" => jsz::jsz(shared, q).await,
        "/healthz" => healthz::healthz(shared, q).await,
        _ => Ok(metrics::metrics(shared).await),
    };
    result.unwrap_or_else(|e| e)
}

fn index() -> Reply {
    let links = [
        ("varz", "General"),
        ("jsz", "JetStream"),
        ("connz", "Connections"),
        ("accountz", "Accounts"),
        ("subsz", "Subscriptions"),
        ("routez", "Routes"),
        ("leafz", "LeafNodes"),
        ("gatewayz", "Gateways"),
        ("healthz", "Health Probe"),
        ("metrics", "Prometheus metrics"),
    ];
    let mut body = String::from("<html lang=\"en\"><head><title>Sluice</title></head><body>\n");
    body.push_str(&format!(
        "<h1>Sluice {}</h1>\n",
        crate::info::SLUICE_VERSION
    ));
    for (path, name) in links {
        body.push_str(&format!("<a href=./{path}>{name} /{path}</a><br/>\n"));
    }
    body.push_str("</body></html>\n");
    Reply {
        status: StatusCode::OK,
        content_type: "text/html; charset=utf-8",
        body: body.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some("acc=%24G&subs=detail&x&subs=1&sp=a+b&bad=%zz"));
        assert_eq!(q.get("acc"), "$G");
        assert_eq!(q.get("subs"), "detail");
        assert_eq!(q.get("x"), "");
        assert_eq!(q.get("sp"), "a b");
        assert_eq!(q.get("bad"), "%zz");
        assert_eq!(q.get("missing"), "");
        assert!(q.bool("x").is_ok_and(|b| !b));
        assert!(Query::parse(Some("a=yes")).bool("a").is_err());
        assert_eq!(Query::parse(Some("n=-3")).int("n").ok(), Some(-3));
        assert!(Query::parse(Some("n=-3")).uint("n").is_err());
    }
}
