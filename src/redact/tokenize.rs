//! Tokenization (troubleshoot's `--tokenize`, §3.4 of the format notes): a redacted value becomes
//! `***TOKEN_<TYPE>_<HASH>***` instead of `***HIDDEN***`, so the same secret can be followed across
//! files without being revealed.
//!
//! - HASH: the first 6 hex characters, upper-cased, of HMAC-SHA256(key, normalized value ‖ context),
//!   where the context is the redactor name. The key is random per run ([`Tokenizer::random`]), or
//!   loaded from a key file ([`Tokenizer::from_key_file`]) for tokens stable across runs.
//! - One token per match (upstream reuses the first match's token for a whole line: not copied).
//! - Collisions (two different values, same 6 hex) get `_N` *inside* the closing `***`
//!   (`***TOKEN_SECRET_A1B2C3_1***`), never after it (upstream quirk, not copied).
//! - A value that is already a token is returned unchanged, so a later redactor in the chain that
//!   matches a token does not tokenize the token.
//! - The token map (token → original value) stays in memory ([`Tokenizer::map`]); it is only ever
//!   written encrypted ([`encrypt_map`], AES-256-GCM) under an operator-held key, outside the bundle.
//!
//! Key files (both the HMAC key and the map key): 32 bytes, either as 64 hex characters (surrounding
//! whitespace ignored; the recommended form, e.g. `openssl rand -hex 32 > key`) or as exactly 32 raw
//! bytes.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Hex characters of the hash kept in a token.
const HASH_HEX: usize = 6;

/// Collision suffixes tried before giving up and widening the hash.
const MAX_SUFFIX: u32 = 100;

/// Token map envelope version.
const ENVELOPE_VERSION: u32 = 1;

/// Token map envelope algorithm name.
const ALGORITHM: &str = "AES-256-GCM";

/// Everything that can go wrong with keys and token maps.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A key file is missing, unreadable or not 32 bytes.
    #[error("key file {path}: {reason}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The system random source failed.
    #[error("random source /dev/urandom: {0}")]
    Random(#[source] std::io::Error),
    /// The token map file is not a valid envelope.
    #[error("token map is not a valid envelope: {0}")]
    Envelope(String),
    /// Decryption failed: wrong key, or the file was altered.
    #[error("token map cannot be decrypted: wrong key, or the file was altered")]
    Decrypt,
}

/// Reads `N` bytes from `/dev/urandom`.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], TokenError> {
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(TokenError::Random)?;
    Ok(buf)
}

/// Loads a 32-byte key: 64 hex characters (whitespace around ignored) or 32 raw bytes.
pub fn load_key(path: &Path) -> Result<[u8; 32], TokenError> {
    let err = |reason: String| TokenError::KeyFile {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if let Ok(text) = std::str::from_utf8(&bytes) {
        let t = text.trim();
        if t.len() == 64
            && let Some(v) = hex_decode(t)
        {
            let mut key = [0u8; 32];
            key.copy_from_slice(&v);
            return Ok(key);
        }
    }
    if bytes.len() == 32 {
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        return Ok(key);
    }
    Err(err(format!(
        "expected 64 hex characters or 32 raw bytes, found {} bytes",
        bytes.len()
    )))
}

/// Lower-case hex.
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Hex (either case) to bytes; `None` if malformed.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

/// A token's TYPE.
///
/// The context (redactor name, lower-cased) is tested first against each class's words in this
/// order; then the value is tested for an e-mail address or an IP address; then the class words are
/// searched in the value; otherwise GENERIC.
///
/// Inferred, not given by the format notes: the DATABASE words (`database|db|connection|dsn|jdbc|
/// postgres|mysql|mongodb|redis`), and the EMAIL / IP regexes (a plain `local@domain.tld`, and dotted
/// IPv4 or a colon-separated IPv6 address).
pub fn classify(context: &str, value: &str) -> &'static str {
    let c = context.to_ascii_lowercase();
    if let Some(t) = class_of(&c) {
        return t;
    }
    let (email, ip) = value_regexes();
    let v = value.trim();
    if email.is_match(v) {
        return "EMAIL";
    }
    if ip.is_match(v) {
        return "IP";
    }
    class_of(&v.to_ascii_lowercase()).unwrap_or("GENERIC")
}

/// The first class whose words occur in `text` (lower-case).
fn class_of(text: &str) -> Option<&'static str> {
    static CLASSES: OnceLock<Vec<(&'static str, regex::Regex)>> = OnceLock::new();
    let classes = CLASSES.get_or_init(|| {
        [
            ("APIKEY", r"api.?key|apikey|access.?key"),
            ("PASSWORD", r"password|passwd|pwd"),
            (
                "DATABASE",
                r"database|db|connection|dsn|jdbc|postgres|mysql|mongodb|redis",
            ),
            ("CREDENTIAL", r"credential|cred|auth"),
            ("SECRET", r"secret|private.?key"),
            ("TOKEN", r"token|bearer|jwt|oauth"),
            ("KEY", r"key|cert|certificate"),
        ]
        .into_iter()
        .map(|(t, p)| (t, regex::Regex::new(p).expect("class regex")))
        .collect()
    });
    classes
        .iter()
        .find(|(_, re)| re.is_match(text))
        .map(|(t, _)| *t)
}

/// The e-mail and IP regexes tried on the value.
fn value_regexes() -> &'static (regex::Regex, regex::Regex) {
    static RES: OnceLock<(regex::Regex, regex::Regex)> = OnceLock::new();
    RES.get_or_init(|| {
        (
            regex::Regex::new(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$").expect("email"),
            regex::Regex::new(
                r"^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$|^[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}$",
            )
            .expect("ip"),
        )
    })
}

/// True when `s` is a whole token (`***TOKEN_<A-Z>+_<A-F0-9>+(_<digits>)?***`).
pub fn is_token(s: &str) -> bool {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"^\*\*\*TOKEN_[A-Z]+_[A-F0-9]+(?:_\d+)?\*\*\*$").expect("token regex")
    })
    .is_match(s)
}

/// Normalizes a value before hashing, so trivially different spellings of a secret share a token:
/// trim; strip one leading `Bearer `, `Basic `, `Token `, `API_KEY=`, `PASSWORD=` or `SECRET=`
/// (case-insensitive); strip one pair of surrounding quotes; collapse spaces around `:` and `@`;
/// lower-case an all-letter value shorter than 8 characters.
pub fn normalize(value: &str) -> String {
    let mut v = value.trim();
    for prefix in [
        "Bearer ",
        "Basic ",
        "Token ",
        "API_KEY=",
        "PASSWORD=",
        "SECRET=",
    ] {
        if v.len() >= prefix.len()
            && v.is_char_boundary(prefix.len())
            && v[..prefix.len()].eq_ignore_ascii_case(prefix)
        {
            v = v[prefix.len()..].trim_start();
            break;
        }
    }
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            v = &v[1..v.len() - 1];
            break;
        }
    }
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, ':' | '@') {
            while out.ends_with(' ') {
                out.pop();
            }
            out.push(c);
        } else if c == ' ' && (out.ends_with(':') || out.ends_with('@')) {
            continue;
        } else {
            out.push(c);
        }
    }
    if out.len() < 8 && !out.is_empty() && out.chars().all(|c| c.is_ascii_alphabetic()) {
        out.make_ascii_lowercase();
    }
    out
}

/// What the tokenizer remembers; behind one lock so assignment is consistent across threads.
#[derive(Default)]
struct State {
    /// (normalized value, context) → token.
    assigned: HashMap<(String, String), String>,
    /// token → original value (the first spelling seen).
    map: BTreeMap<String, String>,
}

/// Turns secrets into tokens; shared by every redaction thread of one run.
pub struct Tokenizer {
    key: [u8; 32],
    state: Mutex<State>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key or the map.
        f.debug_struct("Tokenizer").finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// A tokenizer with this HMAC key (same key → same tokens across runs).
    pub fn new(key: [u8; 32]) -> Tokenizer {
        Tokenizer {
            key,
            state: Mutex::new(State::default()),
        }
    }

    /// A tokenizer with a random per-run key.
    pub fn random() -> Result<Tokenizer, TokenError> {
        Ok(Tokenizer::new(random_bytes()?))
    }

    /// A tokenizer with the key in `path` (see [`load_key`]).
    pub fn from_key_file(path: &Path) -> Result<Tokenizer, TokenError> {
        Ok(Tokenizer::new(load_key(path)?))
    }

    /// The token for one matched value, found by redactor `context`. Bytes that are not UTF-8 are
    /// hashed as is and kept in the map with U+FFFD replacements.
    pub fn token(&self, value: &[u8], context: &str) -> String {
        let text = String::from_utf8_lossy(value);
        if is_token(text.trim()) {
            return text.trim().to_string();
        }
        let norm = normalize(&text);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = state.assigned.get(&(norm.clone(), context.to_string())) {
            return t.clone();
        }
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(norm.as_bytes());
        mac.update(context.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hash = hex_encode(&digest[..HASH_HEX / 2]).to_ascii_uppercase();
        let kind = classify(context, &norm);
        let base = format!("***TOKEN_{kind}_{hash}***");
        let mut token = base.clone();
        let mut n = 0;
        while state.map.contains_key(&token) {
            n += 1;
            if n > MAX_SUFFIX {
                // Astronomically unlikely: fall back to the whole digest.
                token = format!(
                    "***TOKEN_{kind}_{}_{n}***",
                    hex_encode(&digest).to_ascii_uppercase()
                );
                break;
            }
            token = format!("***TOKEN_{kind}_{hash}_{n}***");
        }
        state.map.insert(token.clone(), text.into_owned());
        state
            .assigned
            .insert((norm, context.to_string()), token.clone());
        token
    }

    /// The token map so far: token → original value.
    pub fn map(&self) -> BTreeMap<String, String> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .clone()
    }
}

/// The on-disk envelope of an encrypted token map.
#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    version: u32,
    algorithm: String,
    nonce: String,
    ciphertext: String,
}

/// Encrypts a token map with AES-256-GCM under `key` (random 96-bit nonce) into the JSON envelope
/// `{"version":1,"algorithm":"AES-256-GCM","nonce":hex,"ciphertext":hex}`.
pub fn encrypt_map(map: &BTreeMap<String, String>, key: &[u8; 32]) -> Result<Vec<u8>, TokenError> {
    let nonce: [u8; 12] = random_bytes()?;
    let plain = serde_json::to_vec(map).expect("string map serializes");
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
        .map_err(|_| TokenError::Envelope("encryption failed".into()))?;
    let env = Envelope {
        version: ENVELOPE_VERSION,
        algorithm: ALGORITHM.into(),
        nonce: hex_encode(&nonce),
        ciphertext: hex_encode(&ciphertext),
    };
    let mut out = serde_json::to_vec_pretty(&env).expect("envelope serializes");
    out.push(b'\n');
    Ok(out)
}

/// Decrypts an envelope written by [`encrypt_map`].
pub fn decrypt_map(bytes: &[u8], key: &[u8; 32]) -> Result<BTreeMap<String, String>, TokenError> {
    let env: Envelope =
        serde_json::from_slice(bytes).map_err(|e| TokenError::Envelope(e.to_string()))?;
    if env.version != ENVELOPE_VERSION {
        return Err(TokenError::Envelope(format!(
            "unsupported version {}",
            env.version
        )));
    }
    if env.algorithm != ALGORITHM {
        return Err(TokenError::Envelope(format!(
            "unsupported algorithm {:?}",
            env.algorithm
        )));
    }
    let nonce = hex_decode(&env.nonce)
        .filter(|n| n.len() == 12)
        .ok_or_else(|| TokenError::Envelope("nonce is not 24 hex characters".into()))?;
    let ciphertext = hex_decode(&env.ciphertext)
        .ok_or_else(|| TokenError::Envelope("ciphertext is not hex".into()))?;
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let plain = cipher
        .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
        .map_err(|_| TokenError::Decrypt)?;
    serde_json::from_slice(&plain).map_err(|e| TokenError::Envelope(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_context_first_then_value() {
        assert_eq!(classify("Redact AWS access key", "x"), "APIKEY");
        assert_eq!(classify("my-api_key rule", "x"), "APIKEY");
        assert_eq!(
            classify("Redact connection strings with password", "x"),
            "PASSWORD"
        );
        assert_eq!(classify("database url", "x"), "DATABASE");
        assert_eq!(classify("Redact auth header", "x"), "CREDENTIAL");
        assert_eq!(classify("private-key", "x"), "SECRET");
        assert_eq!(classify("jwt", "x"), "TOKEN");
        assert_eq!(classify("tls cert", "x"), "KEY");
        assert_eq!(classify("n.literal.0", "someone@example.com"), "EMAIL");
        assert_eq!(classify("n.literal.0", "10.0.12.7"), "IP");
        assert_eq!(classify("n.literal.0", "fe80::1"), "IP");
        assert_eq!(classify("n.literal.0", "mysecretvalue"), "SECRET");
        assert_eq!(classify("n.literal.0", "hunter2xyz"), "GENERIC");
    }

    #[test]
    fn normalization() {
        assert_eq!(normalize("  Bearer abcDEF123  "), "abcDEF123");
        assert_eq!(normalize("\"quoted-Value\""), "quoted-Value");
        assert_eq!(normalize("user : pw @ host"), "user:pw@host");
        assert_eq!(normalize("SeCrEt"), "secret");
        assert_eq!(normalize("LongerWord"), "LongerWord");
        assert_eq!(normalize("PASSWORD=Abc1"), "Abc1");
    }

    #[test]
    fn same_key_same_token_different_key_different_token() {
        let a = Tokenizer::new([7; 32]);
        let b = Tokenizer::new([7; 32]);
        let c = Tokenizer::new([8; 32]);
        let ta = a.token(b"s3cr3t-value", "rule");
        assert_eq!(ta, a.token(b"s3cr3t-value", "rule"));
        assert_eq!(ta, b.token(b"s3cr3t-value", "rule"));
        assert_ne!(ta, c.token(b"s3cr3t-value", "rule"));
        assert!(is_token(&ta), "{ta}");
        assert_ne!(ta, a.token(b"other-value", "rule"));
        // Normalized spellings share a token; the map keeps the first original.
        assert_eq!(ta, a.token(b"\"s3cr3t-value\"", "rule"));
        assert_eq!(a.map().get(&ta).map(String::as_str), Some("s3cr3t-value"));
        // A token is never tokenized again.
        assert_eq!(a.token(ta.as_bytes(), "another"), ta);
        assert_eq!(a.map().len(), 2);
    }

    #[test]
    fn token_grammar() {
        let t = Tokenizer::new([1; 32]).token(b"pw", "Redact passwords");
        let re = regex::Regex::new(r"^\*\*\*TOKEN_PASSWORD_[A-F0-9]{6}\*\*\*$").unwrap();
        assert!(re.is_match(&t), "{t}");
        assert!(is_token("***TOKEN_KEY_ABCDEF_3***"));
        assert!(!is_token("***TOKEN_KEY_ABCDEF***_3"));
        assert!(!is_token("***HIDDEN***"));
    }

    #[test]
    fn encrypt_decrypt_round_trip_and_wrong_key() {
        let mut map = BTreeMap::new();
        map.insert(
            "***TOKEN_GENERIC_ABC123***".to_string(),
            "hunter2".to_string(),
        );
        let key = [3u8; 32];
        let bytes = encrypt_map(&map, &key).expect("encrypts");
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(!text.contains("hunter2"));
        let env: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(env["version"], 1);
        assert_eq!(env["algorithm"], "AES-256-GCM");
        assert_eq!(env["nonce"].as_str().map(str::len), Some(24));
        assert_eq!(decrypt_map(&bytes, &key).expect("decrypts"), map);
        let err = decrypt_map(&bytes, &[4u8; 32]).expect_err("wrong key");
        assert!(matches!(err, TokenError::Decrypt), "{err}");
        assert!(err.to_string().contains("wrong key"));
        assert!(matches!(
            decrypt_map(b"not json", &key),
            Err(TokenError::Envelope(_))
        ));
    }

    #[test]
    fn key_files_hex_or_raw() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hex = dir.path().join("hex");
        std::fs::write(&hex, format!("{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(load_key(&hex).expect("hex"), [0xab; 32]);
        let raw = dir.path().join("raw");
        std::fs::write(&raw, [9u8; 32]).unwrap();
        assert_eq!(load_key(&raw).expect("raw"), [9; 32]);
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "short").unwrap();
        let err = load_key(&bad).expect_err("bad");
        assert!(err.to_string().contains("64 hex characters"), "{err}");
        assert!(load_key(&dir.path().join("missing")).is_err());
    }
}
