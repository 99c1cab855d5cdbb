//! The app clients the local identity provider knows, as a Cognito user pool has them: a
//! public client (the SPA; PKCE, no secret) and a confidential one (the token-mediating
//! backend; PKCE and a secret), each with the exact redirect and logout URLs it may use.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// One app client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    /// `None` for a public client.
    pub secret: Option<String>,
    /// Where codes may be sent: compared whole, never as prefixes.
    pub redirect_uris: Vec<String>,
    /// Where `/logout` may send the browser back to.
    pub logout_uris: Vec<String>,
}

/// Why a client could not be identified at the token or revocation endpoint (RFC 6749's
/// `invalid_client`); the answer never says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidClient;

impl Client {
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|allowed| allowed == uri)
    }

    pub fn allows_logout(&self, uri: &str) -> bool {
        self.logout_uris.iter().any(|allowed| allowed == uri)
    }
}

/// The client a token or revocation request is from: a confidential client by HTTP Basic
/// (`client_secret_basic`) or by `client_id` and `client_secret` in the form
/// (`client_secret_post`), a public one by `client_id` alone. A public client that sends a
/// secret, a confidential one that sends none, two ways at once: all refused.
pub fn authenticate<'a>(
    clients: &'a [Client],
    authorization: Option<&str>,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<&'a Client, InvalidClient> {
    let (id, secret) = match (authorization, form_secret) {
        (Some(_), Some(_)) => return Err(InvalidClient),
        (Some(header), None) => {
            let (id, secret) = basic_credentials(header).ok_or(InvalidClient)?;
            if form_id.is_some_and(|f| f != id) {
                return Err(InvalidClient);
            }
            (id, Some(secret))
        }
        (None, secret) => (form_id.ok_or(InvalidClient)?.to_owned(), secret.map(str::to_owned)),
    };
    let client = clients.iter().find(|c| c.id == id).ok_or(InvalidClient)?;
    match (&client.secret, secret) {
        (None, None) => Ok(client),
        (Some(expected), Some(given)) if constant_time_eq(expected.as_bytes(), given.as_bytes()) => Ok(client),
        _ => Err(InvalidClient),
    }
}

/// `Basic base64(id:secret)`, each part form-urlencoded as RFC 6749 section 2.3.1 says.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| form_urlencoded::parse(format!("v={part}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients() -> Vec<Client> {
        vec![
            Client { id: "spa".into(), secret: None, redirect_uris: vec!["https://app.example/callback".into()], logout_uris: vec![] },
            Client { id: "backend".into(), secret: Some("s3cr3t:+/".into()), redirect_uris: vec![], logout_uris: vec![] },
        ]
    }

    fn basic(id: &str, secret: &str) -> String {
        let escape = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!("Basic {}", STANDARD.encode(format!("{}:{}", escape(id), escape(secret))))
    }

    #[test]
    fn each_client_authenticates_its_own_way_only() {
        let clients = clients();
        assert_eq!(authenticate(&clients, None, Some("spa"), None).map(|c| c.id.as_str()), Ok("spa"));
        assert_eq!(authenticate(&clients, Some(&basic("backend", "s3cr3t:+/")), None, None).map(|c| c.id.as_str()), Ok("backend"));
        assert_eq!(authenticate(&clients, None, Some("backend"), Some("s3cr3t:+/")).map(|c| c.id.as_str()), Ok("backend"));
        for (header, id, secret) in [
            (None, Some("backend"), None),
            (None, Some("backend"), Some("wrong")),
            (Some(basic("backend", "wrong")), None, None),
            (None, Some("spa"), Some("anything")),
            (None, Some("nobody"), None),
            (None, None, None),
            (Some(basic("backend", "s3cr3t:+/")), Some("spa"), None),
            (Some(basic("backend", "s3cr3t:+/")), None, Some("s3cr3t:+/")),
            (Some("Bearer abc".to_owned()), None, None),
        ] {
            assert_eq!(authenticate(&clients, header.as_deref(), id, secret), Err(InvalidClient), "{header:?} {id:?} {secret:?}");
        }
    }

    #[test]
    fn redirects_are_matched_whole() {
        let spa = &clients()[0];
        assert!(spa.allows_redirect("https://app.example/callback"));
        for other in [
            "https://app.example/callback/",
            "https://app.example/callback?x=1",
            "https://app.example/callbackx",
            "https://evil.example/callback",
        ] {
            assert!(!spa.allows_redirect(other), "{other}");
        }
    }
}
