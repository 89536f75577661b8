//! The clean environment every process the agent spawns for a job starts from.
//!
//! The agent's own environment holds what its uploads and notifications need (`fromEnv` header
//! secrets, cloud credentials); a collector that inherited it could print it into the bundle
//! (`env`, `printenv`, a crash dump). So no child inherits it: each gets the few variables that
//! make programs behave (PATH, HOME, locale, time zone, temp dir) plus what its spec names.

/// Copied from the agent when set: they steer how programs run and hold no credentials.
///
/// PATH is the agent's own (set by the unit or the operator, like every other root-owned input)
/// rather than a fixed list, so tools installed where the operator pointed the agent are found the
/// same way the agent finds `support-bundle`; [`SAFE_PATH`] stands in when the agent has none.
pub const BASE_VARS: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TZ",
    "TMPDIR",
];

/// PATH when the agent itself runs without one.
pub const SAFE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Variables the troubleshoot CLI (`collect.engine: support-bundle`) needs to reach a cluster:
/// its kubeconfig and the proxies client-go honours. Nothing else of the agent's goes to it.
pub const EXTERNAL_ENGINE_VARS: &[&str] = &[
    "KUBECONFIG",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// The clean base environment: [`BASE_VARS`] as the agent has them, PATH defaulted.
pub fn base() -> Vec<(String, String)> {
    with_vars(&[])
}

/// [`base`] plus `extra` variable names, as the agent has them (unset ones are left out).
pub fn with_vars(extra: &[&str]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for key in BASE_VARS.iter().chain(extra) {
        if env.iter().any(|(k, _)| k == key) {
            continue;
        }
        if let Ok(v) = std::env::var(key) {
            env.push(((*key).to_string(), v));
        }
    }
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), SAFE_PATH.into()));
    }
    env
}

/// Sets `key` to `value`, replacing an earlier entry (the spec's own `env` wins over the base).
pub fn set(env: &mut Vec<(String, String)>, key: &str, value: String) {
    env.retain(|(k, _)| k != key);
    env.push((key.to_string(), value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_base_names_and_a_path() {
        let env = base();
        assert!(env.iter().all(|(k, _)| BASE_VARS.contains(&k.as_str())));
        assert!(env.iter().any(|(k, _)| k == "PATH"));
    }

    #[test]
    fn set_replaces() {
        let mut env = vec![("A".to_string(), "1".to_string())];
        set(&mut env, "A", "2".into());
        assert_eq!(env, [("A".to_string(), "2".to_string())]);
    }
}
