//! Bearer-token authentication of the control service (a tonic interceptor). A request must
//! carry `authorization: Bearer <token>` matching one of the configured tokens (compared in
//! constant time); otherwise it is refused as `Unauthenticated` before any handler runs, so
//! nothing happens. With no tokens configured, every request is let through (the server logs
//! a warning at start-up).

use std::sync::Arc;

use tonic::{Request, Status};

/// The interceptor; cheap to clone.
#[derive(Clone, Debug)]
pub struct BearerAuth {
    tokens: Arc<Vec<String>>,
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl BearerAuth {
    /// Accepts any of `tokens` (an empty list accepts every request).
    pub fn new(tokens: Vec<String>) -> Self {
        Self {
            tokens: Arc::new(tokens),
        }
    }

    /// Checks one request's metadata.
    pub fn check<T>(&self, req: &Request<T>) -> Result<(), Status> {
        if self.tokens.is_empty() {
            return Ok(());
        }
        let Some(value) = req.metadata().get("authorization") else {
            return Err(Status::unauthenticated(
                "missing `authorization: Bearer <token>` metadata",
            ));
        };
        let value = value
            .to_str()
            .map_err(|_| Status::unauthenticated("malformed authorization metadata"))?;
        let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        else {
            return Err(Status::unauthenticated(
                "authorization metadata must be `Bearer <token>`",
            ));
        };
        let token = token.trim().as_bytes();
        if self
            .tokens
            .iter()
            .any(|t| constant_time_eq(t.as_bytes(), token))
        {
            Ok(())
        } else {
            Err(Status::unauthenticated("invalid bearer token"))
        }
    }
}

impl tonic::service::Interceptor for BearerAuth {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        self.check(&req)?;
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(auth: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        if let Some(a) = auth {
            r.metadata_mut().insert("authorization", a.parse().unwrap());
        }
        r
    }

    #[test]
    fn accepts_only_configured_tokens() {
        let a = BearerAuth::new(vec!["s3cret".into()]);
        assert!(a.check(&req(Some("Bearer s3cret"))).is_ok());
        for bad in [
            None,
            Some("Bearer nope"),
            Some("s3cret"),
            Some("Bearer s3cre"),
        ] {
            assert_eq!(
                a.check(&req(bad)).unwrap_err().code(),
                tonic::Code::Unauthenticated
            );
        }
        assert!(BearerAuth::new(vec![]).check(&req(None)).is_ok());
    }
}
