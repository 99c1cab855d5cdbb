#!/usr/bin/env python3
"""Signs in at the local server the way the SPA does, and prints the access token.

It walks the same path a browser takes: `/oauth2/authorize` with PKCE (S256), the sign-in
form (with its CSRF cookie), choosing a password at the first sign-in, a TOTP code when
the account has one, then `POST /auth/token` on the token-mediating backend from the
app's origin. Only the standard library is used.

usage: scripts/sign-in.py EMAIL [--base http://127.0.0.1:3000] [--origin http://localhost:5173]

Passwords come from FORECAST_PASSWORD (and FORECAST_NEW_PASSWORD at a first sign-in),
codes from FORECAST_TOTP_CODE; whatever is not set is asked for on the terminal.
"""

import argparse
import base64
import getpass
import hashlib
import html
import json
import os
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request

CLIENT_ID = "local-backend"
REDIRECT_URI = "http://localhost:5173/callback"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Shows redirects instead of following them: the code is in the first one."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def request(url, data=None, headers=None):
    """(status, headers, body text) of one request; HTTP errors are answers too."""
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with OPENER.open(req) as answer:
            return answer.status, answer.headers, answer.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers, answer.read().decode()


def hidden_fields(page):
    fields = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    return [(html.unescape(name), html.unescape(value)) for name, value in fields]


def secret(variable, prompt):
    return os.environ.get(variable) or getpass.getpass(prompt, stream=sys.stderr)


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description="Sign in at the local server and print an access token.")
    parser.add_argument("email")
    parser.add_argument("--base", default="http://127.0.0.1:3000")
    parser.add_argument("--origin", default="http://localhost:5173", help="an origin the server's CORS allows")
    args = parser.parse_args()
    base = args.base.rstrip("/")

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    query = urllib.parse.urlencode({
        "client_id": CLIENT_ID, "response_type": "code", "scope": "openid email", "redirect_uri": REDIRECT_URI,
        "state": state, "nonce": secrets.token_urlsafe(16), "code_challenge": challenge, "code_challenge_method": "S256",
    })
    status, headers, page = request(f"{base}/oauth2/authorize?{query}")
    if status != 200:
        fail(f"the sign-in page did not open ({status}): {page[:300]}")
    # The form's CSRF token must come back in its cookie (a script keeps the one cookie itself).
    cookie = next((c.split(";")[0] for c in headers.get_all("set-cookie") or [] if c.startswith("__Host-idp-csrf=")), None)
    if cookie is None:
        fail("the sign-in page set no CSRF cookie")

    fields = {"email": args.email, "password": secret("FORECAST_PASSWORD", f"password for {args.email}: ")}
    for _ in range(6):
        form = urllib.parse.urlencode(hidden_fields(page) + list(fields.items())).encode()
        status, headers, page = request(f"{base}/login", form, {"cookie": cookie, "content-type": "application/x-www-form-urlencoded"})
        if status == 302:
            break
        alert = re.search(r'<p role="alert">(.*?)</p>', page, re.S)
        alert = html.unescape(alert.group(1)) if alert else None
        if 'name="new_password"' in page:
            variable = "FORECAST_NEW_PASSWORD"
            if alert and os.environ.get(variable):
                fail(f"{variable} refused: {alert}")
            if alert:
                print(alert, file=sys.stderr)
            fields = {"new_password": secret(variable, "choose your password: ")}
        elif 'name="code"' in page:
            if alert and os.environ.get("FORECAST_TOTP_CODE"):
                fail(f"FORECAST_TOTP_CODE refused: {alert}")
            key = re.search(r"Key: <code>([^<]*)</code>", page)
            if key:
                print(f"add this key to your authenticator app: {key.group(1)}", file=sys.stderr)
            fields = {"code": secret("FORECAST_TOTP_CODE", "six-digit code: ")}
        else:
            fail(f"sign-in refused ({status}): {alert or page[:300]}")
    else:
        fail("the sign-in did not finish")

    location = urllib.parse.urlparse(headers["location"])
    answer = dict(urllib.parse.parse_qsl(location.query))
    if answer.get("state") != state or "code" not in answer:
        fail(f"the sign-in came back without a code for this request: {headers['location']}")
    body = json.dumps({"code": answer["code"], "code_verifier": verifier, "redirect_uri": REDIRECT_URI}).encode()
    status, _, text = request(f"{base}/auth/token", body, {"content-type": "application/json", "origin": args.origin, "x-csrf-token": "1"})
    if status != 200:
        fail(f"/auth/token refused the code ({status}): {text[:300]}")
    print(json.loads(text)["access_token"])


if __name__ == "__main__":
    main()
