//! The sign-in pages: plain HTML forms that work without JavaScript or CSS, with labels,
//! `autocomplete` hints for password managers and the error said in words. Everything
//! interpolated is escaped.

/// Escapes text for HTML content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} · Forecast</title>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n{body}</main>\n</body>\n</html>\n",
        escape(title),
        escape(title)
    )
}

fn message(text: Option<&str>) -> String {
    text.map(|t| format!("<p role=\"alert\">{}</p>\n", escape(t))).unwrap_or_default()
}

fn hidden(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(name, value)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">\n", escape(name), escape(value))).collect()
}

/// The e-mail and password form. `fields` carry the authorization request and the CSRF token.
pub fn sign_in(fields: &[(&str, &str)], email: &str, alert: Option<&str>) -> String {
    page(
        "Sign in",
        &format!(
            "{}<form method=\"post\" action=\"/login\">\n{}<p><label for=\"email\">E-mail</label><br>\n<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"{}\"></p>\n<p><label for=\"password\">Password</label><br>\n<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></p>\n<p><button type=\"submit\">Sign in</button></p>\n</form>\n",
            message(alert),
            hidden(fields),
            escape(email)
        ),
    )
}

/// The first sign-in's form: choose a password to replace the temporary one.
pub fn new_password(fields: &[(&str, &str)], alert: Option<&str>) -> String {
    page(
        "Choose your password",
        &format!(
            "{}<p>Your account was created with a temporary password. Choose your own: at least 12 characters with upper- and lower-case letters, a digit and a symbol; a long passphrase is best.</p>\n<form method=\"post\" action=\"/login\">\n{}<p><label for=\"new_password\">New password</label><br>\n<input id=\"new_password\" name=\"new_password\" type=\"password\" autocomplete=\"new-password\" minlength=\"12\" maxlength=\"256\" required></p>\n<p><button type=\"submit\">Save and continue</button></p>\n</form>\n",
            message(alert),
            hidden(fields)
        ),
    )
}

/// The second factor: a code from the authenticator app.
pub fn totp(fields: &[(&str, &str)], alert: Option<&str>) -> String {
    page(
        "Enter your code",
        &format!(
            "{}<form method=\"post\" action=\"/login\">\n{}<p><label for=\"code\">Six-digit code from your authenticator app</label><br>\n<input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{{6}}\" required></p>\n<p><button type=\"submit\">Continue</button></p>\n</form>\n",
            message(alert),
            hidden(fields)
        ),
    )
}

/// Setting up an authenticator, required for admins: the key as a link and as text.
pub fn enroll_totp(fields: &[(&str, &str)], secret: &str, uri: &str, alert: Option<&str>) -> String {
    page(
        "Set up your authenticator",
        &format!(
            "{}<p>Admins sign in with a second factor. Add this account to an authenticator app (<a href=\"{}\">open in the app</a>, or type the key), then enter the code it shows.</p>\n<p>Key: <code>{}</code></p>\n<form method=\"post\" action=\"/login\">\n{}<p><label for=\"code\">Six-digit code</label><br>\n<input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{{6}}\" required></p>\n<p><button type=\"submit\">Continue</button></p>\n</form>\n",
            message(alert),
            escape(uri),
            escape(secret),
            hidden(fields)
        ),
    )
}

/// A request that can't go on, said plainly (a bad client or redirect is never redirected to).
pub fn error(title: &str, detail: &str) -> String {
    page(title, &format!("<p>{}</p>\n", escape(detail)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolated_text_cannot_break_out_of_attributes_or_content() {
        let html = sign_in(&[("state", "\"><script>alert(1)</script>")], "a@b.c\" onfocus=\"x", Some("<b>bad</b>"));
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""), "{html}");
        assert!(html.contains("value=\"a@b.c&quot; onfocus=&quot;x\""), "{html}");
        assert!(html.contains("<p role=\"alert\">&lt;b&gt;bad&lt;/b&gt;</p>"), "{html}");
    }

    #[test]
    fn forms_label_every_field_and_post_to_the_login_endpoint() {
        let html = sign_in(&[], "", None);
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("<label for=\"email\">") && html.contains("id=\"email\""));
        assert!(html.contains("<label for=\"password\">") && html.contains("autocomplete=\"current-password\""));
        assert!(html.contains("<form method=\"post\" action=\"/login\">"));
        assert!(!html.contains("<script"), "no JavaScript needed");
    }
}
