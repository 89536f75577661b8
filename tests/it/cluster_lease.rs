//! Cluster mode: replicas of the agent elect a leader on a `coordination.k8s.io/v1` Lease in
//! the test API server, and only the leader starts runs. Each replica has its own state
//! directory and bearer token (so the server can cut one off); they share the jobs directory,
//! as pods mounting one ConfigMap do.

use crate::support;
use kube_api::{Cluster, KubeApiServer};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use support::JobFile;
use support::daemon::{Daemon, wait_until};
use support::kube_api;

const JOB: &str = "every-minute";
/// Short timings so a takeover takes seconds: lease 3 s, renew deadline 2 s, retry 0.5 s.
const ELECTION: &str =
    "{leaseNamespace: default, leaseDuration: 3s, renewDeadline: 2s, retryPeriod: 500ms";
/// Bound of the waits for a slot (the agents' clocks start a few seconds before a minute).
const SLOT_WAIT: Duration = Duration::from_secs(100);
/// Bound of the waits for a change of leader.
const ELECTION_WAIT: Duration = Duration::from_secs(30);

fn replica(server: &KubeApiServer, jobs: &Path, dir: &Path, identity: &str) -> Daemon {
    replica_with(server, jobs, dir, identity, |b| {
        b.clock_offset_to_second(52)
    })
}

/// A replica whose builder `clock` gives its clock.
fn replica_with(
    server: &KubeApiServer,
    jobs: &Path,
    dir: &Path,
    identity: &str,
    clock: impl FnOnce(support::daemon::DaemonBuilder) -> support::daemon::DaemonBuilder,
) -> Daemon {
    let kubeconfig = dir.join(format!("{identity}.kubeconfig"));
    std::fs::write(
        &kubeconfig,
        server.kubeconfig_with_token("default", identity),
    )
    .expect("kubeconfig");
    let builder = Daemon::builder()
        .jobs(jobs)
        .setting("kubeconfig", kubeconfig.display())
        .setting("mode", "cluster")
        .setting(
            "leaderElection",
            format!("{ELECTION}, identity: {identity}}}"),
        );
    clock(builder).start()
}

fn cluster_status(d: &Daemon) -> Value {
    d.status()["cluster"].clone()
}

const NAMES: [&str; 2] = ["replica-a", "replica-b"];

/// Waits until one of `replicas` leads and every other names it; returns its index.
fn leader_of(replicas: &[Daemon]) -> usize {
    wait_until(
        ELECTION_WAIT,
        "exactly one leader, named by the others",
        || {
            let views: Vec<Value> = replicas.iter().map(cluster_status).collect();
            let leading: Vec<usize> = (0..views.len())
                .filter(|i| views[*i]["leading"] == true)
                .collect();
            match leading.as_slice() {
                [one] if views.iter().all(|v| v["leader"] == NAMES[*one]) => Ok(*one),
                _ => Err(format!("{views:?}")),
            }
        },
    )
}

/// Two replicas of the cluster mode against `server`, sharing the jobs directory in `dir`.
fn two_replicas(server: &KubeApiServer, dir: &Path) -> Vec<Daemon> {
    let jobs = dir.join("jobs.d");
    NAMES
        .iter()
        .map(|name| replica(server, &jobs, dir, name))
        .collect()
}

/// The scheduled slots a replica ran (`scheduledAt` of its records of trigger `schedule`).
fn slots(d: &Daemon) -> Vec<String> {
    let mut out: Vec<String> = d
        .runs(JOB)
        .iter()
        .filter(|r| r["trigger"] == "schedule")
        .map(|r| r["scheduledAt"].as_str().unwrap_or("").to_string())
        .collect();
    out.sort();
    out
}

/// The slots `d` ran, waiting for `n` of them to end: a slot another replica had claimed (the
/// old leader, killed between its claim and its record) is recorded `skipped` and does not
/// count, nor does a `running` record (written before the run claims its slot).
fn wait_ran_slots(d: &Daemon, n: usize) -> Vec<String> {
    wait_until(SLOT_WAIT, &format!("{n} slot(s) run"), || {
        let mut s: Vec<String> = (d.runs(JOB).iter())
            .filter(|r| r["trigger"] == "schedule")
            .filter(|r| r["status"] != "skipped" && r["status"] != "running")
            .map(|r| r["scheduledAt"].as_str().unwrap_or("").to_string())
            .collect();
        s.sort();
        if s.len() >= n {
            Ok(s)
        } else {
            Err(format!("{s:?}"))
        }
    })
}

fn wait_slots(d: &Daemon, n: usize) -> Vec<String> {
    wait_until(SLOT_WAIT, &format!("{n} slot(s) run"), || {
        let s = slots(d);
        if s.len() >= n {
            Ok(s)
        } else {
            Err(format!("{s:?}"))
        }
    })
}

fn lease(server: &KubeApiServer) -> Value {
    server
        .object(
            "coordination.k8s.io",
            "v1",
            "leases",
            "default",
            "troubleshoot-agent",
        )
        .expect("the Lease exists")
}

fn setup() -> (KubeApiServer, tempfile::TempDir) {
    let server = KubeApiServer::start(Cluster::baseline());
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs.d");
    std::fs::create_dir_all(&jobs).expect("jobs dir");
    JobFile::new(JOB).schedule("* * * * *").write(&jobs);
    (server, dir)
}

/// Two replicas: one leads and only it runs the slot; the standby plans, reports and refuses
/// triggers naming the leader; after kill -9 of the leader the other takes the Lease over and
/// runs the next slot, and no slot runs twice.
#[test]
fn one_replica_runs_each_slot_and_the_other_takes_over_after_kill9() {
    let (server, dir) = setup();
    let mut replicas = two_replicas(&server, dir.path());
    let first = leader_of(&replicas);
    let (leader_name, standby_name) = (NAMES[first], NAMES[1 - first]);
    let (leader, standby) = (&replicas[first], &replicas[1 - first]);
    assert_eq!(lease(&server)["spec"]["holderIdentity"], leader_name);

    let ran = wait_slots(leader, 1);
    assert_eq!(
        slots(standby),
        Vec::<String>::new(),
        "the standby ran a slot"
    );

    // The standby plans, reports and schedules like the leader, and says who leads.
    let job = standby.job(JOB).expect("the standby shows the job");
    assert!(job["nextRun"].is_string(), "{job}");
    let plan = standby.cli().arg("plan").output().expect("plan");
    assert_eq!(plan.status.code(), Some(0), "{}", support::stderr(&plan));
    let status = standby.cli().arg("status").output().expect("status");
    assert!(
        support::stdout(&status).contains(&format!(
            "cluster mode: replica {standby_name} standby: the leader is {leader_name}"
        )),
        "{}",
        support::stdout(&status)
    );
    let refused = standby.post(&format!("/api/v1/jobs/{JOB}/trigger"));
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(
        refused
            .body
            .contains(&format!("not the leader; the leader is {leader_name}")),
        "{}",
        refused.body
    );
    let ready = standby.get("/readyz");
    assert_eq!(ready.status, 200, "a standby is ready: {}", ready.body);
    let gauge = |d: &Daemon, name: &str| {
        d.metric(&format!(
            "troubleshoot_scheduler_leader{{identity=\"{name}\"}}"
        ))
    };
    assert_eq!(gauge(leader, leader_name), Some(1.0));
    assert_eq!(gauge(standby, standby_name), Some(0.0));
    let transitions = lease(&server)["spec"]["leaseTransitions"]
        .as_i64()
        .unwrap_or(0);

    // kill -9: no release; the standby waits out the lease duration, then takes over.
    replicas.remove(first).kill9();
    let survivor = &replicas[0];
    wait_until(ELECTION_WAIT, "the standby to take over", || {
        let c = cluster_status(survivor);
        if c["leading"] == true {
            Ok(())
        } else {
            Err(c.to_string())
        }
    });
    let spec = lease(&server)["spec"].clone();
    assert_eq!(spec["holderIdentity"], standby_name, "{spec}");
    assert_eq!(
        spec["leaseTransitions"].as_i64(),
        Some(transitions + 1),
        "{spec}"
    );
    assert!(
        survivor
            .metric("troubleshoot_scheduler_leader_transitions_total")
            .is_some_and(|n| n >= 2.0)
    );

    let taken_over = wait_ran_slots(survivor, 1);
    for slot in &taken_over {
        assert!(!ran.contains(slot), "slot {slot} ran on both replicas");
    }
    // The survivor claimed its slot before it ran it.
    let claim = server
        .object(
            "coordination.k8s.io",
            "v1",
            "leases",
            "default",
            &format!("troubleshoot-agent.{JOB}"),
        )
        .expect("the job's claim Lease");
    assert_eq!(claim["spec"]["holderIdentity"], standby_name, "{claim}");
    assert_eq!(
        claim["metadata"]["annotations"]["troubleshoot.sh/claimed-slot"].as_str(),
        taken_over.last().map(String::as_str),
        "{claim}"
    );
}

/// Failover with a slot in between: the leader runs a slot and is killed (-9) while the standby
/// is cut off from the API, so the next slot passes while no replica leads. Back in touch, the
/// standby takes the Lease over and catches that slot up once (a catch-up run that claims it);
/// the slot the killed leader claimed is not run again; `history` on the survivor shows the
/// killed leader's run, known from its claim, with its status unknown.
#[test]
fn a_new_leader_catches_up_the_slot_missed_during_the_failover() {
    let (server, dir) = setup();
    let jobs = dir.path().join("jobs.d");
    let (a_name, b_name) = (NAMES[0], NAMES[1]);
    let a = replica(&server, &jobs, dir.path(), a_name);
    wait_until(ELECTION_WAIT, "replica-a to lead", || {
        let c = cluster_status(&a);
        if c["leading"] == true {
            Ok(())
        } else {
            Err(c.to_string())
        }
    });
    // b's clock runs 45 s ahead of a's (replicas' clocks differ; the claims fence the slots,
    // not the clocks): the slot after a's comes for b within seconds, not a minute.
    let b_offset = a.clock_offset_ms + 45_000;
    let b = replica_with(&server, &jobs, dir.path(), b_name, |builder| {
        builder.clock_offset_ms(b_offset)
    });
    let ran = wait_ran_slots(&a, 1);
    let a_slot: chrono::DateTime<chrono::Utc> = ran[0].parse().expect("slot");
    let missed_slot = a_slot + chrono::Duration::minutes(1);

    server.black_hole(b_name);
    a.kill9();
    // b passes the next slot as a standby: nobody leads.
    wait_until(SLOT_WAIT, "replica-b to pass the next slot", || {
        let job = b.job(JOB).unwrap_or_default();
        let next: Option<chrono::DateTime<chrono::Utc>> =
            job["nextRun"].as_str().and_then(|t| t.parse().ok());
        match next {
            Some(next) if next > missed_slot => Ok(()),
            _ => Err(job.to_string()),
        }
    });
    server.heal(b_name);
    wait_until(ELECTION_WAIT, "replica-b to take over", || {
        let c = cluster_status(&b);
        if c["leading"] == true {
            Ok(())
        } else {
            Err(c.to_string())
        }
    });

    let caught = wait_until(SLOT_WAIT, "the missed slot caught up", || {
        let runs = b.runs(JOB);
        let ended = (runs.iter())
            .filter(|r| r["trigger"] == "catch-up" && r["status"] != "running")
            .cloned()
            .collect::<Vec<_>>();
        if ended.is_empty() {
            Err(format!("{runs:?}"))
        } else {
            Ok(ended)
        }
    });
    let runs = b.runs(JOB);
    assert_eq!(caught.len(), 1, "caught up once: {runs:?}");
    let caught = &caught[0];
    let missed_text = missed_slot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(caught["scheduledAt"], missed_text.as_str(), "{caught}");
    assert_ne!(caught["status"], "skipped", "{caught}");
    for r in &runs {
        assert_ne!(r["scheduledAt"], ran[0].as_str(), "a's slot ran again: {r}");
        assert_ne!(r["status"], "missed", "only one slot passed: {r}");
    }
    let claim = server
        .object(
            "coordination.k8s.io",
            "v1",
            "leases",
            "default",
            &format!("troubleshoot-agent.{JOB}"),
        )
        .expect("the job's claim Lease");
    let annotations = &claim["metadata"]["annotations"];
    assert_eq!(
        annotations["troubleshoot.sh/claimed-slot"],
        missed_text.as_str(),
        "{claim}"
    );
    let recent: Vec<Value> = serde_json::from_str(
        annotations["troubleshoot.sh/recent-claims"]
            .as_str()
            .unwrap_or("[]"),
    )
    .expect("the recent claims are JSON");
    let by: Vec<(&str, &str, &str)> = (recent.iter())
        .map(|c| {
            let text = |k: &str| c[k].as_str().unwrap_or("");
            (text("scheduledAt"), text("replica"), text("trigger"))
        })
        .collect();
    assert_eq!(
        by,
        [
            (ran[0].as_str(), a_name, "schedule"),
            (missed_text.as_str(), b_name, "catch-up")
        ],
        "{claim}"
    );

    // History on the survivor: its own catch-up, and a's run known from its claim.
    let api = b.get(&format!("/api/v1/jobs/{JOB}/runs"));
    let others = api.json()["otherReplicas"].clone();
    assert_eq!(others[0]["replica"], a_name, "{}", api.body);
    assert_eq!(others[0]["scheduledAt"], ran[0].as_str(), "{}", api.body);
    let text = b.cli().args(["history", JOB]).output().expect("history");
    assert_eq!(text.status.code(), Some(0), "{}", support::stderr(&text));
    let out = support::stdout(&text);
    let a_line = (out.lines())
        .find(|l| l.contains(&format!("ran on replica {a_name}")))
        .unwrap_or_else(|| panic!("a's run is not in the history:\n{out}"));
    assert!(a_line.contains("unknown"), "{out}");
    assert!(out.contains("catch-up") || out.contains("catchup"), "{out}");
    let json = b
        .cli()
        .args(["--output", "json", "history", JOB])
        .output()
        .expect("history -o json");
    assert_eq!(json.status.code(), Some(0), "{}", support::stderr(&json));
    let entries: Vec<Value> = serde_json::from_slice(&json.stdout).expect("JSON");
    let elsewhere: Vec<&Value> = (entries.iter())
        .filter(|e| e["replica"] == a_name)
        .collect();
    assert_eq!(elsewhere.len(), 1, "{entries:?}");
    assert_eq!(elsewhere[0]["status"], "unknown");
    assert_eq!(elsewhere[0]["knownFrom"], "claim");
    assert!(
        (entries.iter()).any(|e| e["trigger"] == "catch-up" && e["runId"].is_string()),
        "{entries:?}"
    );
}

/// A slot claimed already (by an earlier leader, here up to the year 2999) is not run again:
/// the leader records it skipped, naming who claimed it.
#[test]
fn a_claimed_slot_is_not_run_again() {
    use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
    let (server, dir) = setup();
    with_leases(&server, |api| async move {
        let mut lease = Lease::default();
        lease.metadata.name = Some(format!("troubleshoot-agent.{JOB}"));
        lease.metadata.annotations = Some(
            [
                (
                    "troubleshoot.sh/claimed-slot".to_string(),
                    "2999-01-01T00:00:00Z".to_string(),
                ),
                (
                    "troubleshoot.sh/claimed-run".to_string(),
                    "r-earlier".to_string(),
                ),
            ]
            .into(),
        );
        lease.spec = Some(LeaseSpec {
            holder_identity: Some("earlier-leader".into()),
            ..LeaseSpec::default()
        });
        api.create(&Default::default(), &lease)
            .await
            .expect("create the claim");
    });
    let d = replica(&server, &dir.path().join("jobs.d"), dir.path(), "replica-a");
    let record = wait_until(SLOT_WAIT, "a scheduled run recorded", || {
        let runs = d.runs(JOB);
        match runs
            .iter()
            .find(|r| r["trigger"] == "schedule" && r["status"] != "running")
        {
            Some(r) => Ok(r.clone()),
            None => Err(format!("{runs:?}")),
        }
    });
    assert_eq!(record["status"], "skipped", "{record}");
    let reason = record["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("already claimed by earlier-leader"),
        "{reason}"
    );
}

/// Runs `f` with a Lease API of the default namespace on `server`.
fn with_leases<F, Fut>(server: &KubeApiServer, f: F)
where
    F: FnOnce(kube::Api<k8s_openapi::api::coordination::v1::Lease>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let kc =
            kube::config::Kubeconfig::from_yaml(&server.kubeconfig("default")).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("config");
        let client = kube::Client::try_from(config).expect("client");
        f(kube::Api::namespaced(client, "default")).await;
    });
}

/// Partition: the leader's API calls are black-holed. It stops starting runs (the next slot is
/// run by the other replica alone) and says it does not lead; the other takes the Lease over.
#[test]
fn a_partitioned_leader_stops_and_the_other_leads() {
    let (server, dir) = setup();
    let replicas = two_replicas(&server, dir.path());
    let first = leader_of(&replicas);
    let (leader_name, standby_name) = (NAMES[first], NAMES[1 - first]);
    let (leader, standby) = (&replicas[first], &replicas[1 - first]);
    let ran = wait_slots(leader, 1);

    server.black_hole(leader_name);
    wait_until(
        ELECTION_WAIT,
        "the partitioned leader to stop leading",
        || {
            let c = cluster_status(leader);
            if c["leading"] == false {
                Ok(())
            } else {
                Err(c.to_string())
            }
        },
    );
    wait_until(ELECTION_WAIT, "the other replica to lead", || {
        let c = cluster_status(standby);
        if c["leading"] == true {
            Ok(())
        } else {
            Err(c.to_string())
        }
    });
    assert_eq!(lease(&server)["spec"]["holderIdentity"], standby_name);
    let refused = leader.post(&format!("/api/v1/jobs/{JOB}/trigger"));
    assert_eq!(refused.status, 503, "{}", refused.body);

    // The next slot: run by the new leader only; the cut-off one still schedules but starts nothing.
    let next = wait_slots(standby, 1);
    assert!(!ran.contains(&next[0]), "{ran:?} {next:?}");
    assert_eq!(slots(leader), ran, "the partitioned replica started a run");
    assert!(
        leader.stderr().contains("no longer leads"),
        "{}",
        leader.stderr()
    );
}

/// The test API server's Lease semantics, as clients of the real one rely on them: a second
/// create is AlreadyExists, an update from a stale resourceVersion is Conflict, each write gets
/// a new resourceVersion.
#[test]
fn the_test_server_has_lease_concurrency() {
    use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
    use kube::api::{Api, PostParams};
    let server = KubeApiServer::start(Cluster::baseline());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let kc =
            kube::config::Kubeconfig::from_yaml(&server.kubeconfig("default")).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("config");
        let client = kube::Client::try_from(config).expect("client");
        let api: Api<Lease> = Api::namespaced(client, "default");
        let mut lease = Lease::default();
        lease.metadata.name = Some("l".into());
        lease.spec = Some(LeaseSpec {
            holder_identity: Some("a".into()),
            ..LeaseSpec::default()
        });
        let pp = PostParams::default();
        let created = api.create(&pp, &lease).await.expect("create");
        let rv1 = created.metadata.resource_version.clone().expect("rv");
        match api.create(&pp, &lease).await {
            Err(kube::Error::Api(s)) => {
                assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists"), "{s:?}")
            }
            other => panic!("a second create: {other:?}"),
        }
        let mut update = created.clone();
        update.spec.as_mut().expect("spec").holder_identity = Some("b".into());
        let updated = api.replace("l", &pp, &update).await.expect("update");
        let rv2 = updated.metadata.resource_version.clone().expect("rv");
        assert_ne!(rv1, rv2);
        assert_eq!(updated.metadata.uid, created.metadata.uid);
        // `update` still carries rv1: stale now.
        match api.replace("l", &pp, &update).await {
            Err(kube::Error::Api(s)) => {
                assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"), "{s:?}")
            }
            other => panic!("a stale update: {other:?}"),
        }
        let read = api.get("l").await.expect("get");
        assert_eq!(
            read.spec.and_then(|s| s.holder_identity).as_deref(),
            Some("b")
        );
    });
}

/// Timings that could let two replicas lead at once are refused at start, saying why.
#[test]
fn unsafe_timings_are_refused() {
    let dirs = support::dirs();
    let out = support::agent(&dirs.state)
        .args(["--jobs-dir"])
        .arg(&dirs.jobs)
        .args([
            "run",
            "--mode",
            "cluster",
            "--lease-duration",
            "5s",
            "--renew-deadline",
            "5s",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = support::stderr(&out);
    assert!(
        err.contains("the renew deadline (5s) must be shorter than the lease duration (5s)"),
        "{err}"
    );
}
