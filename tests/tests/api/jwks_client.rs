//! The JWKS client against a local issuer stub that fails, hangs, serves garbage or serves
//! keys, counting every request it gets: a dead issuer costs one fetch per refresh
//! interval, never one per request, and keys already known keep working.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use shared::auth::AuthError;
use shared::auth::jwks::{HttpJwks, KeyCache};
use shared::auth::local::LocalIssuer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the stub answers.
#[derive(Debug, Clone)]
enum Mode {
    /// 500 Internal Server Error.
    Fail,
    /// Accepts and never answers.
    Hang,
    /// 200 with a body that is not a key set.
    Garbage,
    /// 200 with a body far over the size cap.
    Huge,
    /// 200 with this key set.
    Serve(String),
}

struct Stub {
    url: String,
    requests: Arc<AtomicUsize>,
    mode: Arc<std::sync::Mutex<Mode>>,
}

impl Stub {
    async fn start(mode: Mode) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let mode = Arc::new(std::sync::Mutex::new(mode));
        let (count, current) = (Arc::clone(&requests), Arc::clone(&mode));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mode = current.lock().unwrap().clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 1024];
                    let _ = socket.read(&mut request).await;
                    let (status, body) = match mode {
                        Mode::Hang => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                        Mode::Fail => ("500 Internal Server Error", "oops".to_owned()),
                        Mode::Garbage => ("200 OK", "<html>not a key set</html>".to_owned()),
                        Mode::Huge => ("200 OK", format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(200_000))),
                        Mode::Serve(set) => ("200 OK", set),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(body.as_bytes()).await;
                });
            }
        });
        Self { url, requests, mode }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn cache(&self, min_refresh: Duration) -> KeyCache {
        let source =
            HttpJwks::with_timeouts(self.url.clone(), https::aws_tls(None), Duration::from_millis(200), Duration::from_millis(300));
        KeyCache::new(Box::new(source), min_refresh)
    }
}

fn issuer() -> LocalIssuer {
    LocalIssuer::ephemeral("http://127.0.0.1:1".into(), "c".into()).unwrap()
}

fn unavailable<T>(result: Result<T, AuthError>) -> bool {
    matches!(result, Err(AuthError::KeysUnavailable(_)))
}

#[tokio::test]
async fn a_failing_hanging_or_garbled_issuer_is_asked_once_per_interval() {
    for mode in [Mode::Fail, Mode::Hang, Mode::Garbage, Mode::Huge] {
        let stub = Stub::start(mode.clone()).await;
        let cache = Arc::new(stub.cache(Duration::from_secs(3600)));
        assert!(unavailable(cache.key("first").await), "{mode:?}");
        assert_eq!(stub.requests(), 1, "{mode:?}");

        // Twenty more callers, at once, with kids nobody knows: the remembered failure
        // answers them all without another request (and so without waiting for one).
        let callers = (0..20).map(|i| {
            let cache = Arc::clone(&cache);
            async move { cache.key(&format!("kid-{i}")).await }
        });
        let answers = tokio::time::timeout(Duration::from_secs(2), futures::future::join_all(callers)).await.unwrap();
        assert!(answers.into_iter().all(unavailable), "{mode:?}");
        assert_eq!(stub.requests(), 1, "{mode:?}: the failure must count as the interval's fetch");
    }
}

#[tokio::test]
async fn concurrent_unknown_kids_share_one_fetch_while_the_issuer_hangs() {
    let stub = Stub::start(Mode::Hang).await;
    let cache = Arc::new(stub.cache(Duration::from_secs(3600)));
    let callers = (0..20).map(|i| {
        let cache = Arc::clone(&cache);
        async move { cache.key(&format!("kid-{i}")).await }
    });
    let answers = tokio::time::timeout(Duration::from_secs(5), futures::future::join_all(callers)).await.unwrap();
    assert!(answers.into_iter().all(unavailable));
    assert_eq!(stub.requests(), 1);
}

#[tokio::test]
async fn known_keys_keep_working_while_the_issuer_is_down() {
    let issuer = issuer();
    let stub = Stub::start(Mode::Serve(serde_json::to_string(&issuer.jwks()).unwrap())).await;
    // No interval: every unknown kid may try again, so the failure path runs each time.
    let cache = stub.cache(Duration::ZERO);
    assert!(cache.key(&issuer.kid()).await.is_ok());
    assert_eq!(stub.requests(), 1);

    for mode in [Mode::Fail, Mode::Garbage, Mode::Serve(r#"{"keys":[]}"#.into())] {
        stub.set(mode.clone());
        let before = stub.requests();
        assert!(unavailable(cache.key("rotated-away").await), "{mode:?}");
        assert_eq!(stub.requests(), before + 1, "{mode:?}");
        assert!(cache.key(&issuer.kid()).await.is_ok(), "{mode:?}: a failed refresh dropped the known key");
        assert_eq!(stub.requests(), before + 1, "{mode:?}: a known kid needs no fetch");
    }

    // When the issuer is back, a rotated key is found.
    let rotated = self::issuer();
    stub.set(Mode::Serve(serde_json::to_string(&rotated.jwks()).unwrap()));
    assert!(cache.key(&rotated.kid()).await.is_ok());
}

#[tokio::test]
async fn a_request_whose_key_cannot_be_fetched_is_a_503_not_a_401() {
    let stub = Stub::start(Mode::Fail).await;
    let issuer = issuer();
    let settings = shared::config::AuthSettings::for_issuer(issuer.issuer(), issuer.client_id());
    let verifier = shared::auth::TokenVerifier::new(settings, stub.cache(Duration::from_secs(3600)));
    let token = issuer.mint_access_token("u-1", "u-1", shared::auth::Role::Viewer).unwrap();
    for _ in 0..5 {
        assert!(matches!(verifier.verify(&token).await, Err(AuthError::KeysUnavailable(_))));
    }
    assert_eq!(stub.requests(), 1);
}

#[tokio::test]
async fn a_key_set_is_read_up_to_64_kib_and_refused_past_it() {
    let issuer = issuer();
    let set = serde_json::to_string(&issuer.jwks()).unwrap();
    // JSON allows trailing whitespace: the same set, made exactly `len` bytes long.
    let padded = |len: usize| format!("{set}{}", " ".repeat(len - set.len()));
    for (len, accepted) in [(2_000, true), (64 * 1024, true), (64 * 1024 + 1, false), (200_000, false)] {
        let stub = Stub::start(Mode::Serve(padded(len))).await;
        let result = stub.cache(Duration::ZERO).key(&issuer.kid()).await;
        match result {
            Ok(_) => assert!(accepted, "{len} bytes were read"),
            Err(AuthError::KeysUnavailable(cause)) => {
                assert!(!accepted, "{len} bytes were refused: {cause}");
                assert_eq!(cause, "key set too large", "{len}");
            }
            Err(other) => panic!("{len}: {other:?}"),
        }
    }
}
