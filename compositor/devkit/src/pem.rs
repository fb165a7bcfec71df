//! Self-signed ECDSA certificates for test WebRTC peers (str0m's DTLS takes no RSA), made
//! with the `openssl` command (Debian's openssl package, scripts/setup.sh).

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, anyhow};

/// A fresh self-signed P-256 certificate and its key as one PEM (certificate first), and the
/// certificate's SHA-256 fingerprint (colon-separated hex, as SDP's `a=fingerprint` has it).
pub fn ecdsa_pem(common_name: &str) -> anyhow::Result<(String, String)> {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "-",
            "-out",
            "-",
            "-subj",
            &format!("/CN={common_name}"),
            "-days",
            "2",
        ])
        .output()
        .context("openssl req")?;
    let text = String::from_utf8(out.stdout).context("openssl output")?;
    let cert_start = text
        .find("-----BEGIN CERTIFICATE-----")
        .ok_or_else(|| anyhow!("no certificate from openssl"))?;
    let (key, cert) = (&text[..cert_start], &text[cert_start..]);
    let mut child = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("openssl x509")?;
    child
        .stdin
        .take()
        .ok_or_else(|| anyhow!("no stdin"))?
        .write_all(cert.as_bytes())
        .context("openssl x509 stdin")?;
    let out = child.wait_with_output().context("openssl x509")?;
    let line = String::from_utf8(out.stdout).context("openssl output")?;
    let fingerprint = line
        .trim()
        .rsplit('=')
        .next()
        .filter(|f| f.contains(':'))
        .ok_or_else(|| anyhow!("no fingerprint from openssl"))?
        .to_string();
    Ok((format!("{cert}{key}"), fingerprint))
}
