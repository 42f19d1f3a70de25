//! CORS for TUS: preflights answered, and every response (refusals included) readable by a page on an allowed
//! origin, with the TUS headers exposed.

use std::time::Duration;

use http::header::{
    HeaderName, HeaderValue, ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, Method, StatusCode};

use crate::server::ConfigError;
use crate::Response;

/// The methods a TUS client uses.
const METHODS: &str = "POST, HEAD, PATCH, DELETE, OPTIONS";
/// The request headers TUS clients send (tus-js-client and Uppy among them), and `Authorization` for the
/// applications that add it.
const REQUEST_HEADERS: &str = "Tus-Resumable, Upload-Length, Upload-Offset, Upload-Metadata, Upload-Defer-Length, \
    Upload-Concat, Upload-Checksum, X-HTTP-Method-Override, X-Requested-With, Content-Type, Authorization";
/// Every header a TUS response may carry that a page must be able to read.
const EXPOSED_HEADERS: &str = "Location, Upload-Offset, Upload-Length, Upload-Metadata, Upload-Defer-Length, \
    Upload-Expires, Upload-Concat, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm";

/// Which pages may use the endpoint from another origin (CORS). Off unless set with
/// [`ServerBuilder::cors`](crate::ServerBuilder::cors): an application that runs its own CORS layer (tower-http's
/// `CorsLayer` in axum, for example) leaves it off, so that no response carries the header twice.
///
/// ```
/// use std::time::Duration;
/// use tus_proto::{Cors, Server};
/// let server = Server::builder()
///     .cors(Cors::origins(["https://app.example.com"]).allow_credentials(true).max_age(Duration::from_secs(600)))
///     .build()?;
/// # Ok::<(), tus_proto::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Cors {
    origins: Option<Vec<String>>,
    credentials: bool,
    max_age: Duration,
    allow_headers: Vec<String>,
}

impl Cors {
    /// Any origin may upload (what tusd and `tussi-server` do by default).
    pub fn any_origin() -> Cors {
        Cors { origins: None, credentials: false, max_age: Duration::from_secs(86_400), allow_headers: Vec::new() }
    }

    /// Only these origins (`https://app.example.com`, `http://localhost:3000`) may upload. Checked by
    /// [`ServerBuilder::build`](crate::ServerBuilder::build).
    pub fn origins<I, S>(origins: I) -> Cors
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cors { origins: Some(origins.into_iter().map(Into::into).collect()), ..Cors::any_origin() }
    }

    /// Whether pages may send cookies and HTTP authentication (`Access-Control-Allow-Credentials`). Default: no.
    pub fn allow_credentials(mut self, allow: bool) -> Cors {
        self.credentials = allow;
        self
    }

    /// How long a browser may keep a preflight's answer (`Access-Control-Max-Age`). Default: one day.
    pub fn max_age(mut self, age: Duration) -> Cors {
        self.max_age = age;
        self
    }

    /// Request headers to allow besides the TUS headers, `Content-Type`, `X-Requested-With` and `Authorization`
    /// (for example an application's own `X-Api-Key`).
    pub fn allow_headers<I, S>(mut self, headers: I) -> Cors
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow_headers.extend(headers.into_iter().map(Into::into));
        self
    }

    /// Checks the origins and headers, and prepares the header values.
    pub(crate) fn check(self) -> Result<CorsPolicy, ConfigError> {
        let origins = match self.origins {
            None => None,
            Some(list) => Some(list.iter().map(|o| parse_origin(o)).collect::<Result<Vec<_>, _>>()?),
        };
        let mut request_headers = REQUEST_HEADERS.to_owned();
        for name in &self.allow_headers {
            HeaderName::try_from(name.as_str()).map_err(|_| ConfigError::CorsHeader(name.clone()))?;
            request_headers.push_str(", ");
            request_headers.push_str(name);
        }
        let request_headers = HeaderValue::try_from(request_headers)
            .map_err(|_| ConfigError::CorsHeader(self.allow_headers.join(", ")))?;
        Ok(CorsPolicy { origins, credentials: self.credentials, max_age: self.max_age.as_secs(), request_headers })
    }
}

/// An origin as browsers send it: `scheme://host[:port]`, lower-case, nothing after.
fn parse_origin(origin: &str) -> Result<String, ConfigError> {
    let invalid = || ConfigError::CorsOrigin(origin.to_owned());
    let trimmed = origin.trim().trim_end_matches('/');
    let uri: http::Uri = trimmed.parse().map_err(|_| invalid())?;
    let plain = uri.scheme().is_some()
        && uri.authority().is_some_and(|a| !a.as_str().contains('@'))
        && uri.path_and_query().is_none_or(|p| p.as_str() == "/" || p.as_str().is_empty());
    if !plain || trimmed.contains(['?', '#']) {
        return Err(invalid());
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// A checked [`Cors`].
#[derive(Clone, Debug)]
pub(crate) struct CorsPolicy {
    /// `None`: any origin.
    origins: Option<Vec<String>>,
    credentials: bool,
    max_age: u64,
    request_headers: HeaderValue,
}

impl CorsPolicy {
    /// Whether the request is a CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`. It
    /// carries no `Tus-Resumable` (browsers send none), so it is answered before the version check.
    pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS && headers.contains_key(ORIGIN) && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to a preflight; [`apply`](Self::apply) adds the origin.
    pub(crate) fn preflight(&self) -> Response {
        let mut response = Response::new(StatusCode::NO_CONTENT)
            .header(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(METHODS))
            .header(ACCESS_CONTROL_ALLOW_HEADERS, self.request_headers.clone())
            .number(ACCESS_CONTROL_MAX_AGE, self.max_age);
        response.headers_mut().remove(crate::headers::TUS_RESUMABLE);
        response
    }

    /// Adds the CORS headers for the request's `Origin` to any response: `Vary: Origin` always (the answer depends
    /// on it), the allowed origin and the exposed headers when the origin is allowed. A disallowed origin gets no
    /// `Access-Control-Allow-Origin`, so the browser keeps the answer from the page.
    pub(crate) fn apply(&self, request_headers: &HeaderMap, mut response: Response) -> Response {
        response.headers_mut().append(VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = request_headers.get(ORIGIN) else { return response };
        let allowed = match &self.origins {
            None => true,
            Some(list) => list.iter().any(|o| o.as_bytes().eq_ignore_ascii_case(origin.as_bytes())),
        };
        if !allowed {
            return response;
        }
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
        if self.credentials {
            headers.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        response
    }
}
