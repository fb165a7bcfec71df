//! Where `compositor serve` gets its [`ServeConfig`]: a TOML file, then environment overrides,
//! then command-line flags (later wins), validated whole. Pure: the caller reads the file and the environment
//! and passes their contents in, so the merge and validation are unit-tested without IO.
//!
//! ```toml
//! [grpc]
//! bind = "0.0.0.0:50051"          # COMPOSITOR_GRPC_BIND, --grpc-bind
//! tokens = ["long-random-secret"] # COMPOSITOR_GRPC_TOKENS (comma-separated), --token
//! tls_cert = "/etc/compositor/cert.pem"  # COMPOSITOR_GRPC_TLS_CERT (with tls_key)
//! tls_key = "/etc/compositor/key.pem"    # COMPOSITOR_GRPC_TLS_KEY
//!
//! [http]                          # /metrics now, WHIP routes with the WHIP endpoint
//! bind = "0.0.0.0:8080"           # COMPOSITOR_HTTP_BIND, --http-bind
//! public_url = "https://live.example.com"  # COMPOSITOR_HTTP_PUBLIC_URL: base of WHIP URLs
//!
//! [whip]
//! udp_bind = "0.0.0.0:3478"       # COMPOSITOR_WHIP_UDP_BIND: the one UDP port of all hosts
//! public_addr = "203.0.113.5"     # COMPOSITOR_WHIP_PUBLIC_ADDR: IP announced in ICE candidates
//!
//! [images]
//! dir = "/srv/compositor/images"  # COMPOSITOR_IMAGES_DIR: root of RegisterImage.server_path
//!
//! [limits]
//! max_sessions = 16               # COMPOSITOR_MAX_SESSIONS
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use compositor_server::config::ServeConfig;
use serde::Deserialize;

/// Why the settings were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("config: {0}")]
pub struct ConfigError(pub String);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    grpc: FileGrpc,
    #[serde(default)]
    http: FileHttp,
    #[serde(default)]
    whip: FileWhip,
    #[serde(default)]
    images: FileImages,
    #[serde(default)]
    limits: FileLimits,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGrpc {
    bind: Option<String>,
    tokens: Option<Vec<String>>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHttp {
    bind: Option<String>,
    public_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWhip {
    udp_bind: Option<String>,
    public_addr: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileImages {
    dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_sessions: Option<usize>,
}

/// Values given on the command line (None = not given).
#[derive(Debug, Default, Clone)]
pub struct FlagOverrides {
    /// `--grpc-bind`.
    pub grpc_bind: Option<String>,
    /// `--http-bind`.
    pub http_bind: Option<String>,
    /// `--token` (repeatable; replaces the configured tokens when given).
    pub tokens: Vec<String>,
}

fn addr(field: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse().map_err(|_| {
        ConfigError(format!(
            "{field} = {v:?}: expected IP:PORT, e.g. 0.0.0.0:50051"
        ))
    })
}

/// Merges `file` (TOML text), `env` (variables) and `flags`, then validates.
pub fn from_sources(
    file: Option<&str>,
    env: &HashMap<String, String>,
    flags: &FlagOverrides,
) -> Result<ServeConfig, ConfigError> {
    let f: FileConfig = match file {
        Some(text) => toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?,
        None => FileConfig::default(),
    };
    let env = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    let grpc_bind = flags
        .grpc_bind
        .clone()
        .or_else(|| env("COMPOSITOR_GRPC_BIND"))
        .or(f.grpc.bind)
        .unwrap_or_else(|| "127.0.0.1:50051".into());
    let http_bind = flags
        .http_bind
        .clone()
        .or_else(|| env("COMPOSITOR_HTTP_BIND"))
        .or(f.http.bind)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let tokens = if !flags.tokens.is_empty() {
        flags.tokens.clone()
    } else if let Some(t) = env("COMPOSITOR_GRPC_TOKENS") {
        t.split(',').map(|s| s.trim().to_owned()).collect()
    } else {
        f.grpc.tokens.unwrap_or_default()
    };
    for (i, t) in tokens.iter().enumerate() {
        if t.len() < 8 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError(format!(
                "grpc.tokens[{i}]: must be at least 8 characters without spaces"
            )));
        }
    }
    let cert = env("COMPOSITOR_GRPC_TLS_CERT")
        .map(PathBuf::from)
        .or(f.grpc.tls_cert);
    let key = env("COMPOSITOR_GRPC_TLS_KEY")
        .map(PathBuf::from)
        .or(f.grpc.tls_key);
    let tls = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => {
            return Err(ConfigError(
                "grpc.tls_cert and grpc.tls_key must be given together".into(),
            ));
        }
    };
    let public_url = env("COMPOSITOR_HTTP_PUBLIC_URL").or(f.http.public_url);
    if let Some(u) = &public_url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        return Err(ConfigError(format!(
            "http.public_url = {u:?}: must start with http:// or https://"
        )));
    }
    let udp = env("COMPOSITOR_WHIP_UDP_BIND")
        .or(f.whip.udp_bind)
        .unwrap_or_else(|| "0.0.0.0:3478".into());
    let public_addr = match env("COMPOSITOR_WHIP_PUBLIC_ADDR").or(f.whip.public_addr) {
        None => None,
        Some(a) => Some(a.parse::<IpAddr>().map_err(|_| {
            ConfigError(format!("whip.public_addr = {a:?}: expected an IP address"))
        })?),
    };
    let max_sessions = match env("COMPOSITOR_MAX_SESSIONS") {
        Some(v) => v.parse::<usize>().map_err(|_| {
            ConfigError(format!(
                "COMPOSITOR_MAX_SESSIONS = {v:?}: expected a number"
            ))
        })?,
        None => f.limits.max_sessions.unwrap_or(16),
    };
    if !(1..=256).contains(&max_sessions) {
        return Err(ConfigError(format!(
            "limits.max_sessions = {max_sessions}: must be 1..=256"
        )));
    }
    Ok(ServeConfig {
        grpc_bind: addr("grpc.bind", &grpc_bind)?,
        tokens,
        tls,
        http_bind: addr("http.bind", &http_bind)?,
        public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
        whip_udp_bind: addr("whip.udp_bind", &udp)?,
        whip_public_addr: public_addr,
        image_dir: env("COMPOSITOR_IMAGES_DIR")
            .map(PathBuf::from)
            .or(f.images.dir),
        max_sessions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[grpc]
bind = "0.0.0.0:6000"
tokens = ["file-token-1"]
[http]
bind = "0.0.0.0:7000"
public_url = "https://live.example.com/"
[whip]
udp_bind = "0.0.0.0:3478"
public_addr = "203.0.113.5"
[limits]
max_sessions = 3
"#;

    #[test]
    fn file_then_env_then_flags() {
        let none = HashMap::new();
        let c = from_sources(Some(FILE), &none, &FlagOverrides::default()).unwrap();
        assert_eq!(c.grpc_bind, "0.0.0.0:6000".parse().unwrap());
        assert_eq!(c.tokens, vec!["file-token-1"]);
        assert_eq!(c.public_url.as_deref(), Some("https://live.example.com"));
        assert_eq!(c.whip_public_addr, Some("203.0.113.5".parse().unwrap()));
        assert_eq!(c.max_sessions, 3);
        let env: HashMap<_, _> = [
            (
                "COMPOSITOR_GRPC_BIND".to_string(),
                "127.0.0.1:6001".to_string(),
            ),
            (
                "COMPOSITOR_GRPC_TOKENS".to_string(),
                "env-token-1, env-token-2".to_string(),
            ),
        ]
        .into();
        let c = from_sources(Some(FILE), &env, &FlagOverrides::default()).unwrap();
        assert_eq!(c.grpc_bind, "127.0.0.1:6001".parse().unwrap());
        assert_eq!(c.tokens, vec!["env-token-1", "env-token-2"]);
        let flags = FlagOverrides {
            grpc_bind: Some("127.0.0.1:0".into()),
            http_bind: None,
            tokens: vec!["flag-token".into()],
        };
        let c = from_sources(Some(FILE), &env, &flags).unwrap();
        assert_eq!(c.grpc_bind.port(), 0);
        assert_eq!(c.tokens, vec!["flag-token"]);
        assert_eq!(c.http_bind, "0.0.0.0:7000".parse().unwrap());
    }

    #[test]
    fn refusals_name_the_setting() {
        let none = HashMap::new();
        let flags = FlagOverrides::default();
        let bad = |text: &str| from_sources(Some(text), &none, &flags).unwrap_err().0;
        assert!(bad("[grpc]\nbind = \"nope\"").contains("grpc.bind"));
        assert!(bad("[grpc]\ntokens = [\"short\"]").contains("grpc.tokens[0]"));
        assert!(bad("[grpc]\ntls_cert = \"/a\"").contains("together"));
        assert!(bad("[http]\npublic_url = \"ftp://x\"").contains("http.public_url"));
        assert!(bad("[whip]\npublic_addr = \"host\"").contains("whip.public_addr"));
        assert!(bad("[limits]\nmax_sessions = 0").contains("limits.max_sessions"));
        assert!(bad("[grpc]\nbindd = \"x\"").contains("unknown field"));
    }
}
