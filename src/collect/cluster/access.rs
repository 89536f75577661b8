//! Finding the cluster the way kubectl does, and building a client for it.
//!
//! Order (client-go's default loading rules): the `kubeconfig` setting or job field, else the
//! files in `KUBECONFIG` (merged, first one wins per key), else `~/.kube/config`, else the
//! in-cluster service account (`KUBERNETES_SERVICE_HOST` and the mounted token).

use super::Error;
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the mounted service-account token lives in a pod.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The message recorded for every cluster collector when no cluster is configured.
pub const NO_CONFIG: &str = "no Kubernetes configuration found";

/// Where the cluster configuration comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// One kubeconfig file named by the setting or the job.
    File(PathBuf),
    /// The files of `KUBECONFIG`, merged in order.
    Env(Vec<PathBuf>),
    /// `~/.kube/config`.
    Home(PathBuf),
    /// The pod's service account.
    InCluster,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) | Source::Home(p) => write!(f, "{}", p.display()),
            Source::Env(ps) => {
                let list: Vec<String> = ps.iter().map(|p| p.display().to_string()).collect();
                write!(f, "KUBECONFIG={}", list.join(":"))
            }
            Source::InCluster => f.write_str("in-cluster service account"),
        }
    }
}

/// Picks the configuration source; pure over the environment, home directory and file tests it
/// is given. An explicit file is returned even when missing, so reading it reports the error.
pub fn discover(
    explicit: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
    exists: &dyn Fn(&Path) -> bool,
) -> Option<Source> {
    if let Some(path) = explicit {
        return Some(Source::File(path.to_path_buf()));
    }
    if let Some(value) = env("KUBECONFIG") {
        let paths: Vec<PathBuf> = value
            .split(':')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect();
        // client-go skips listed files that do not exist; none existing falls through.
        let present: Vec<PathBuf> = paths.into_iter().filter(|p| exists(p)).collect();
        if !present.is_empty() {
            return Some(Source::Env(present));
        }
    }
    if let Some(home) = home {
        let path = home.join(".kube").join("config");
        if exists(&path) {
            return Some(Source::Home(path));
        }
    }
    let in_cluster = env("KUBERNETES_SERVICE_HOST").is_some_and(|h| !h.is_empty())
        && env("KUBERNETES_SERVICE_PORT").is_some_and(|p| !p.is_empty())
        && exists(Path::new(SERVICE_ACCOUNT_TOKEN));
    in_cluster.then_some(Source::InCluster)
}

/// [`discover`] against the real environment.
pub fn discover_here(explicit: Option<&Path>) -> Option<Source> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    discover(
        explicit,
        &|k| std::env::var(k).ok(),
        home.as_deref(),
        &|p| p.exists(),
    )
}

/// A connected client and what it was built from.
#[derive(Clone)]
pub struct Access {
    /// The client (cheap to clone).
    pub client: kube::Client,
    /// The namespace of the kubeconfig context (or the pod's), for collectors without one.
    pub default_namespace: String,
    /// Where the configuration came from.
    pub source: Source,
}

/// Builds a client from `source` with `context` (kubeconfig sources only).
pub async fn connect(
    source: &Source,
    context: Option<&str>,
    read_timeout: Duration,
) -> Result<Access, Error> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let mut config = match source {
        Source::InCluster => {
            if context.is_some() {
                return Err(Error::Config(
                    "`context` was set but the only configuration is the in-cluster service account".into(),
                ));
            }
            kube::Config::incluster().map_err(|e| Error::Config(format!("{source}: {e}")))?
        }
        Source::File(p) | Source::Home(p) => {
            let kc = Kubeconfig::read_from(p)
                .map_err(|e| Error::Config(format!("kubeconfig {}: {e}", p.display())))?;
            from_kubeconfig(kc, &options, source).await?
        }
        Source::Env(paths) => {
            let mut merged = Kubeconfig::default();
            for p in paths {
                let kc = Kubeconfig::read_from(p)
                    .map_err(|e| Error::Config(format!("kubeconfig {}: {e}", p.display())))?;
                merged = merged
                    .merge(kc)
                    .map_err(|e| Error::Config(format!("{source}: {e}")))?;
            }
            from_kubeconfig(merged, &options, source).await?
        }
    };
    // The per-call timeout of `Api` is the one that reports; this one only stops a connection
    // that hangs past it (e.g. a log stream), so it must not fire first.
    config.read_timeout = Some(read_timeout + Duration::from_secs(5));
    config.connect_timeout = Some(read_timeout.min(Duration::from_secs(10)));
    let default_namespace = config.default_namespace.clone();
    let client =
        kube::Client::try_from(config).map_err(|e| Error::Config(format!("{source}: {e}")))?;
    Ok(Access {
        client,
        default_namespace,
        source: source.clone(),
    })
}

async fn from_kubeconfig(
    kc: Kubeconfig,
    options: &KubeConfigOptions,
    source: &Source,
) -> Result<kube::Config, Error> {
    if let Some(ctx) = &options.context
        && !kc.contexts.iter().any(|c| &c.name == ctx)
    {
        let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        return Err(Error::Config(format!(
            "{source}: no context `{ctx}` (contexts: {})",
            names.join(", ")
        )));
    }
    kube::Config::from_custom_kubeconfig(kc, options)
        .await
        .map_err(|e| Error::Config(format!("{source}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn explicit_file_wins_even_when_missing() {
        let got = discover(
            Some(Path::new("/x/kc")),
            &env_of(&[("KUBECONFIG", "/a")]),
            Some(Path::new("/home/u")),
            &|_| true,
        );
        assert_eq!(got, Some(Source::File("/x/kc".into())));
    }

    #[test]
    fn kubeconfig_env_lists_existing_files_in_order() {
        let got = discover(
            None,
            &env_of(&[("KUBECONFIG", "/a::/missing:/b")]),
            Some(Path::new("/home/u")),
            &|p| p != Path::new("/missing"),
        );
        assert_eq!(got, Some(Source::Env(vec!["/a".into(), "/b".into()])));
    }

    #[test]
    fn home_then_in_cluster_then_nothing() {
        let home = Path::new("/home/u");
        let got = discover(None, &env_of(&[]), Some(home), &|p| {
            p == Path::new("/home/u/.kube/config")
        });
        assert_eq!(got, Some(Source::Home("/home/u/.kube/config".into())));
        let pod = env_of(&[
            ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
            ("KUBERNETES_SERVICE_PORT", "443"),
        ]);
        let got = discover(None, &pod, Some(home), &|p| {
            p == Path::new(SERVICE_ACCOUNT_TOKEN)
        });
        assert_eq!(got, Some(Source::InCluster));
        // A service host without the token (not in a pod) is no configuration.
        assert_eq!(discover(None, &pod, Some(home), &|_| false), None);
        assert_eq!(
            discover(None, &env_of(&[("KUBECONFIG", "/gone")]), None, &|_| false),
            None
        );
    }
}
