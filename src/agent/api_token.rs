//! The bearer token (`apiTokenFile`) that opens the write endpoints (trigger, reload) on the TCP
//! listener. Only a file that only root (or the agent's own user) can read and write is trusted:
//! anyone who can read it can make the agent run jobs, and anyone who can write it can choose the
//! token.

use sha2::{Digest, Sha256};
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// Shortest token accepted (a guessable token is no protection).
pub const MIN_TOKEN_LEN: usize = 16;
/// Longest token file read (a token is a line, not a file of data).
const MAX_TOKEN_FILE: u64 = 4096;

/// The token, kept only as its SHA-256: requests are compared against the digest, so the
/// comparison takes the same time whatever the length or content of what was sent.
pub struct ApiToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(..)")
    }
}

/// The setting that names a token file: each error names the one it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSetting {
    /// `apiTokenFile` (or `--token-file`): the write endpoints over TCP.
    ApiTokenFile,
    /// `alertmanager.tokenFile`: the Alertmanager webhook receiver.
    AlertmanagerTokenFile,
}

impl std::fmt::Display for TokenSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenSetting::ApiTokenFile => "apiTokenFile",
            TokenSetting::AlertmanagerTokenFile => "alertmanager.tokenFile",
        })
    }
}

/// Why the token file is refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// It cannot be opened or read.
    #[error("{setting} {path}: {source}")]
    Read {
        /// The setting that names it.
        setting: TokenSetting,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a regular file.
    #[error("{setting} {path} is not a regular file")]
    NotAFile {
        /// The setting that names it.
        setting: TokenSetting,
        /// The file.
        path: PathBuf,
    },
    /// Owned by another user, who could change the token.
    #[error(
        "{setting} {path} is owned by uid {owner}; it must be owned by root (or the agent's user, uid {agent}): `chown root: {path}`"
    )]
    Owner {
        /// The setting that names it.
        setting: TokenSetting,
        /// The file.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The agent's effective uid.
        agent: u32,
    },
    /// Group or others may read or write it.
    #[error(
        "{setting} {path} has mode {mode:04o}: group and others must not read or write it (anyone who reads it can start runs): `chmod 600 {path}`"
    )]
    Mode {
        /// The setting that names it.
        setting: TokenSetting,
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Empty, too short, too long or with characters an HTTP header cannot carry.
    #[error(
        "{setting} {path}: {problem}; write one line of at least {MIN_TOKEN_LEN} printable characters, e.g. `openssl rand -hex 32 > {path}`"
    )]
    Content {
        /// The setting that names it.
        setting: TokenSetting,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

impl ApiToken {
    /// A token from its text (for tests and for [`ApiToken::load`]).
    pub fn new(token: &str) -> Self {
        ApiToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Reads and checks `path`, named by `setting` (see the module comment). `agent_uid` is the
    /// agent's effective uid.
    pub fn load(path: &Path, setting: TokenSetting, agent_uid: u32) -> Result<Self, TokenError> {
        let read = |source| TokenError::Read {
            setting,
            path: path.to_path_buf(),
            source,
        };
        // The checks are made on the opened file, so it cannot be swapped between check and read.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(read)?;
        let meta = file.metadata().map_err(read)?;
        if !meta.is_file() {
            return Err(TokenError::NotAFile {
                setting,
                path: path.to_path_buf(),
            });
        }
        if meta.uid() != 0 && meta.uid() != agent_uid {
            return Err(TokenError::Owner {
                setting,
                path: path.to_path_buf(),
                owner: meta.uid(),
                agent: agent_uid,
            });
        }
        if meta.mode() & 0o066 != 0 {
            return Err(TokenError::Mode {
                setting,
                path: path.to_path_buf(),
                mode: meta.mode() & 0o7777,
            });
        }
        let mut raw = Vec::new();
        file.take(MAX_TOKEN_FILE + 1)
            .read_to_end(&mut raw)
            .map_err(read)?;
        let content = |problem: &str| TokenError::Content {
            setting,
            path: path.to_path_buf(),
            problem: problem.to_string(),
        };
        if raw.len() as u64 > MAX_TOKEN_FILE {
            return Err(content("the file is larger than 4 KiB"));
        }
        let text = std::str::from_utf8(&raw).map_err(|_| content("the file is not text"))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(content("the file is empty"));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(content(
                "the token has spaces, line breaks or non-ASCII characters",
            ));
        }
        if token.len() < MIN_TOKEN_LEN {
            return Err(content(&format!(
                "the token has {} characters",
                token.len()
            )));
        }
        Ok(ApiToken::new(token))
    }

    /// Whether an `Authorization` header value is `Bearer <this token>` (constant time in the
    /// token's content).
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some(given) = value
            .strip_prefix(b"Bearer ")
            .or_else(|| value.strip_prefix(b"bearer "))
        else {
            return false;
        };
        let given: [u8; 32] = Sha256::digest(given.trim_ascii()).into();
        self.digest.ct_eq(&given).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const TOKEN: &str = "0123456789abcdef0123";
    const API: TokenSetting = TokenSetting::ApiTokenFile;

    fn file(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let path = dir.join("token");
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    #[test]
    fn accepts_only_the_bearer_token() {
        let t = ApiToken::new(TOKEN);
        assert!(t.accepts(Some(format!("Bearer {TOKEN}").as_bytes())));
        assert!(!t.accepts(Some(format!("Bearer {TOKEN}x").as_bytes())));
        assert!(!t.accepts(Some(b"Bearer ")));
        assert!(!t.accepts(Some(TOKEN.as_bytes())));
        assert!(!t.accepts(Some(format!("Basic {TOKEN}").as_bytes())));
        assert!(!t.accepts(None));
    }

    #[test]
    fn loads_a_private_file_and_trims_the_line_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = file(dir.path(), &format!("{TOKEN}\n"), 0o600);
        let uid = std::fs::metadata(&path).expect("stat").uid();
        let t = ApiToken::load(&path, API, uid).expect("valid");
        assert!(t.accepts(Some(format!("Bearer {TOKEN}").as_bytes())));
        assert!(format!("{t:?}").find(TOKEN).is_none(), "Debug hides it");
    }

    #[test]
    fn refuses_readable_foreign_short_and_odd_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = file(dir.path(), TOKEN, 0o640);
        let uid = std::fs::metadata(&path).expect("stat").uid();
        let err = ApiToken::load(&path, API, uid).expect_err("group-readable");
        assert!(matches!(err, TokenError::Mode { mode: 0o640, .. }), "{err}");
        assert!(err.to_string().contains("chmod 600"), "{err}");

        let path = file(dir.path(), TOKEN, 0o600);
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).expect("chown to nobody");
        let err = ApiToken::load(&path, API, 0).expect_err("owned by nobody");
        assert!(
            matches!(err, TokenError::Owner { owner: 65534, .. }),
            "{err}"
        );

        for (text, want) in [
            ("", "empty"),
            ("short", "5 characters"),
            ("has a space in it, long enough", "spaces"),
        ] {
            let path = file(dir.path(), text, 0o600);
            std::os::unix::fs::chown(&path, Some(0), Some(0)).expect("chown to root");
            let err = ApiToken::load(&path, API, 0).expect_err(text).to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let err = ApiToken::load(dir.path(), API, 0).expect_err("a directory");
        assert!(matches!(err, TokenError::NotAFile { .. }), "{err}");
        let err = ApiToken::load(&dir.path().join("missing"), API, 0).expect_err("missing");
        assert!(matches!(err, TokenError::Read { .. }), "{err}");
    }

    #[test]
    fn each_error_names_the_setting_it_is_about() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = file(dir.path(), TOKEN, 0o644);
        let uid = std::fs::metadata(&path).expect("stat").uid();
        for (setting, name, other) in [
            (API, "apiTokenFile", "alertmanager"),
            (
                TokenSetting::AlertmanagerTokenFile,
                "alertmanager.tokenFile",
                "apiTokenFile",
            ),
        ] {
            let err = ApiToken::load(&path, setting, uid).expect_err("readable");
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("{name} {}", path.display())),
                "{text}"
            );
            assert!(!text.contains(other), "{text}");
            let missing = dir.path().join("missing");
            let err = ApiToken::load(&missing, setting, uid).expect_err("missing");
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }
}
