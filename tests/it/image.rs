//! The container image, built from the project's own Dockerfile with podman and
//! run as users run it: read-only root, uid 65532, the simulator and the daemon
//! in two containers sharing one pod's network namespace, state on a volume
//! that survives a restart, and a clean `podman stop`.
//!
//! Nothing here can pull: the runtime base is a Debian bookworm rootfs made by
//! `mmdebstrap` from the host's apt sources and imported into podman, and the
//! binary is the one cargo built for this test run, passed in through the
//! Dockerfile's `prebuilt` stage (the `build` stage needs crates.io). The pod
//! has no network but its loopback; the test reaches the simulator's admin
//! API by entering that namespace with `nsenter`. Fails, never skips, when
//! podman or mmdebstrap is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::helpers::{BIN, TEST_KEY};

/// Local names only: `localhost/` never resolves to a registry.
const BASE_IMAGE: &str = "localhost/campaign-watcher-ci-base:bookworm";
/// Inside the pod's own network namespace, so a fixed port cannot collide.
const SIM_PORT: u16 = 18080;
/// The run container's `[http] listen` port, in the same namespace.
const WATCHER_PORT: u16 = 9464;
/// The bound on every wait and on every podman call but the build.
const WITHIN: Duration = Duration::from_secs(30);

/// Measured on these machines: crun fails on the hybrid cgroup setup, and the
/// default ulimits are above what the sandbox allows.
const CONTAINERS_CONF: &str = r#"[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
"#;

/// Where the base rootfs and containers.conf are kept between runs, so a
/// rerun skips the 30 s mmdebstrap; build contexts are made inside it.
fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("image");
    std::fs::create_dir_all(&dir).expect("the image work directory can be created");
    dir
}

/// The private containers.conf every podman call here uses, written once.
fn containers_conf() -> &'static Path {
    static CONF: OnceLock<PathBuf> = OnceLock::new();
    CONF.get_or_init(|| {
        let conf = work_dir().join("containers.conf");
        std::fs::write(&conf, CONTAINERS_CONF).expect("containers.conf can be written");
        conf
    })
}

/// What a finished command printed and how it ended.
struct Ran {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Run `program args` to completion, killing it after `within`. Output goes to
/// files, not pipes, so a chatty build cannot block on a full pipe.
fn run(program: &str, args: &[&str], within: Duration) -> Ran {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = Command::new(program)
        .args(args)
        .env("CONTAINERS_CONF", containers_conf())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{program} cannot be started ({e}); the image test needs podman, runc, catatonit and mmdebstrap (.ci/run installs them)")
        });
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ran {
        success: status.success(),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

fn podman(args: &[&str], within: Duration) -> Ran {
    run("podman", args, within)
}

/// `podman args` that must succeed; its stdout.
fn podman_ok(args: &[&str], within: Duration) -> String {
    let ran = podman(args, within);
    assert!(
        ran.success,
        "podman {args:?} failed:\n{}\n{}",
        ran.stdout, ran.stderr
    );
    ran.stdout
}

/// The local runtime base: made once from Debian packages, then cached both
/// as a tarball and as an image.
fn ensure_base_image() {
    if podman(&["image", "exists", BASE_IMAGE], WITHIN).success {
        return;
    }
    let tarball = work_dir().join("bookworm-essential.tar");
    if !tarball.exists() {
        // Written aside and renamed: an interrupted run leaves no half tarball.
        let partial = work_dir().join("bookworm-essential.tar.partial");
        let made = run(
            "mmdebstrap",
            &[
                "--quiet",
                // The name does not end in .tar, so say it.
                "--format=tar",
                "--variant=essential",
                "--include=ca-certificates",
                "bookworm",
                partial.to_str().expect("a UTF-8 path"),
            ],
            Duration::from_secs(300),
        );
        assert!(made.success, "mmdebstrap failed:\n{}", made.stderr);
        std::fs::rename(&partial, &tarball).expect("the tarball can be renamed");
    }
    podman_ok(
        &[
            "import",
            tarball.to_str().expect("a UTF-8 path"),
            BASE_IMAGE,
        ],
        Duration::from_secs(120),
    );
}

/// The prebuilt stage's context: the `/out` tree the build stage would make,
/// around this run's binary (stripped: debug info is most of its size).
fn build_context() -> tempfile::TempDir {
    let context = tempfile::tempdir_in(work_dir()).expect("a context directory");
    for dir in [
        "usr/local/bin",
        "var/lib/campaign-watcher",
        "etc/campaign-watcher",
    ] {
        std::fs::create_dir_all(context.path().join(dir)).expect("the context can be made");
    }
    let binary = context.path().join("usr/local/bin/campaign-watcher");
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&binary)
        .arg(BIN)
        .status()
        .is_ok_and(|status| status.success());
    if !stripped {
        std::fs::copy(BIN, &binary).expect("the binary can be copied");
    }
    context
}

/// Everything one run creates, removed again however the test ends.
struct Podman {
    image: String,
    pod: String,
    sim: String,
    watcher: String,
    volume: String,
    /// The build's intermediate images, removed after the tagged one.
    steps: Vec<String>,
}

impl Podman {
    fn new() -> Self {
        let tag = format!("cw-it-{}", std::process::id());
        Self {
            image: format!("localhost/campaign-watcher:{tag}"),
            pod: format!("{tag}-pod"),
            sim: format!("{tag}-sim"),
            watcher: format!("{tag}-run"),
            volume: format!("{tag}-state"),
            steps: Vec::new(),
        }
    }

    /// A one-off command in the image, read-only root and no network.
    fn once(&self, args: &[&str], within: Duration) -> Ran {
        let mut all = vec![
            "run",
            "--rm",
            "--pull=never",
            "--read-only",
            "--network=none",
            "--entrypoint",
            "/usr/local/bin/campaign-watcher",
            &self.image,
        ];
        all.extend_from_slice(args);
        podman(&all, within)
    }

    /// The run container's stdout: the console channel's alert lines.
    fn alert_lines(&self) -> Vec<String> {
        podman_ok(&["logs", &self.watcher], WITHIN)
            .lines()
            .filter(|line| line.contains(" campaign."))
            .map(String::from)
            .collect()
    }

    fn ready(&self) -> bool {
        podman(
            &[
                "exec",
                &self.watcher,
                "/usr/local/bin/campaign-watcher",
                "healthcheck",
                "--ready",
            ],
            WITHIN,
        )
        .success
    }

    /// The pod's network namespace, where the simulator listens on loopback.
    fn pod_pid(&self) -> String {
        let infra = podman_ok(
            &[
                "pod",
                "inspect",
                "--format",
                "{{.InfraContainerID}}",
                &self.pod,
            ],
            WITHIN,
        );
        podman_ok(
            &["inspect", "--format", "{{.State.Pid}}", infra.trim()],
            WITHIN,
        )
        .trim()
        .to_string()
    }

    /// A request to the simulator's admin API from inside the pod.
    fn sim_admin(&self, method: &str, path: &str, body: &str) -> String {
        self.in_pod(method, &format!("http://127.0.0.1:{SIM_PORT}{path}"), body)
    }

    /// How many cycles the run container has finished since it (re)started,
    /// from its `/metrics` (every result counted).
    fn cycles(&self) -> u64 {
        self.in_pod(
            "GET",
            &format!("http://127.0.0.1:{WATCHER_PORT}/metrics"),
            "",
        )
        .lines()
        .filter(|line| line.starts_with("campaign_watcher_cycles_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
    }

    /// Waits for `count` more cycles of the run container than now.
    fn wait_cycles(&self, count: u64) {
        let target = self.cycles() + count;
        assert!(
            eventually(WITHIN, || self.cycles() >= target),
            "{count} more cycles ran"
        );
    }

    /// The run container stopped on SIGTERM as designed: exit 0, and its log
    /// shows the shutdown finishing for the `times`-th time.
    fn assert_stopped_gracefully(&self, times: usize) {
        let exit = podman_ok(
            &["inspect", "--format", "{{.State.ExitCode}}", &self.watcher],
            WITHIN,
        );
        assert_eq!(exit.trim(), "0", "the daemon exits 0 on SIGTERM");
        let logs = podman(&["logs", &self.watcher], WITHIN);
        let logs = format!("{}{}", logs.stdout, logs.stderr);
        let finishing = logs
            .lines()
            .filter(|line| line.contains("stopping: finishing the current cycle and sends"))
            .count();
        let stopped = logs
            .lines()
            .filter(|line| line.trim_end().ends_with(" stopped") || line.contains("\"stopped\""))
            .count();
        assert_eq!(
            (finishing, stopped),
            (times, times),
            "the log shows a finished shutdown for each stop: {logs}"
        );
    }

    /// A request to `url` from inside the pod's network namespace.
    fn in_pod(&self, method: &str, url: &str, body: &str) -> String {
        let pid = self.pod_pid();
        let mut args = vec![
            "-t", &pid, "-n", "curl", "-sS", "--fail", "-m", "5", "-X", method,
        ];
        if !body.is_empty() {
            args.extend_from_slice(&["-H", "content-type: application/json", "-d", body]);
        }
        args.push(url);
        let ran = run("nsenter", &args, WITHIN);
        assert!(
            ran.success,
            "{method} {url} in the pod failed: {}",
            ran.stderr
        );
        ran.stdout
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let quick = Duration::from_secs(60);
        let _ = podman(&["pod", "rm", "--force", "--time", "1", &self.pod], quick);
        let _ = podman(&["volume", "rm", "--force", &self.volume], quick);
        let _ = podman(&["rmi", "--force", &self.image], quick);
        for step in self.steps.iter().rev() {
            // Not --force: a step another image still uses stays.
            let _ = podman(&["rmi", step], quick);
        }
    }
}

/// Poll `check` every 250 ms until it holds or `within` passes.
fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    check()
}

#[test]
fn the_image_runs_read_only_as_65532_and_keeps_its_state_across_a_restart() {
    let started = Instant::now();
    ensure_base_image();
    let context = build_context();
    let mut names = Podman::new();
    let dockerfile = concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile");
    let runtime_arg = format!("RUNTIME_IMAGE={BASE_IMAGE}");
    // Docker format: OCI image configs have no HEALTHCHECK.
    let built = podman_ok(
        &[
            "build",
            "--network=none",
            "--pull=never",
            "--format=docker",
            "--file",
            dockerfile,
            "--build-arg",
            &runtime_arg,
            "--build-arg",
            "BINARY_STAGE=prebuilt",
            "--tag",
            &names.image,
            context.path().to_str().expect("a UTF-8 path"),
        ],
        Duration::from_secs(180),
    );
    // Each step's image ("--> ID"): the prebuilt stage's would otherwise stay
    // behind untagged, one per binary, in a store other builds share.
    names.steps = built
        .lines()
        .filter_map(|line| line.strip_prefix("--> "))
        .map(|id| id.trim().to_string())
        .collect();
    let user = podman_ok(
        &[
            "image",
            "inspect",
            "--format",
            "{{.Config.User}}",
            &names.image,
        ],
        WITHIN,
    );
    assert_eq!(user.trim(), "65532:65532");
    let healthcheck = podman_ok(
        &[
            "image",
            "inspect",
            "--format",
            "{{.HealthCheck.Test}}",
            &names.image,
        ],
        WITHIN,
    );
    assert!(healthcheck.contains("healthcheck"), "{healthcheck}");

    let version = names.once(&["--version"], WITHIN);
    assert!(version.success, "{}", version.stderr);
    assert_eq!(
        version.stdout.trim(),
        concat!("campaign-watcher ", env!("CARGO_PKG_VERSION"))
    );
    // demo's state is a temporary directory: podman mounts a tmpfs on /tmp
    // under --read-only, as docker users add with --tmpfs /tmp.
    let demo = names.once(&["demo", "--duration", "6s", "--step", "1s"], WITHIN);
    assert!(demo.success, "{}", demo.stderr);
    assert!(
        demo.stdout
            .lines()
            .filter(|line| line.contains(" campaign."))
            .count()
            >= 2,
        "{}",
        demo.stdout
    );

    // --- simulate and run, one pod, loopback only ---------------------------
    podman_ok(
        &["pod", "create", "--network", "none", "--name", &names.pod],
        WITHIN,
    );
    let sim_listen = format!("127.0.0.1:{SIM_PORT}");
    let sim_key = format!("SIM_API_KEY={TEST_KEY}");
    podman_ok(
        &[
            "run",
            "--detach",
            "--pull=never",
            "--read-only",
            "--pod",
            &names.pod,
            "--name",
            &names.sim,
            "--health-cmd=none",
            "--env",
            &sim_key,
            "--entrypoint",
            "/usr/local/bin/campaign-watcher",
            &names.image,
            "simulate",
            "--listen",
            &sim_listen,
            "--campaigns",
            "3",
        ],
        WITHIN,
    );
    let mut campaigns = Vec::new();
    assert!(
        eventually(WITHIN, || {
            let ran = run(
                "nsenter",
                &[
                    "-t",
                    &names.pod_pid(),
                    "-n",
                    "curl",
                    "-sS",
                    "--fail",
                    "-m",
                    "5",
                    &format!("http://{sim_listen}/admin/campaigns"),
                ],
                WITHIN,
            );
            if let Ok(serde_json::Value::Array(all)) = serde_json::from_str(&ran.stdout) {
                campaigns = all
                    .iter()
                    .filter_map(|c| c["campaignId"].as_str().map(String::from))
                    .collect();
            }
            !campaigns.is_empty()
        }),
        "the simulator answers inside the pod: {}",
        podman(&["logs", &names.sim], WITHIN).stderr
    );
    // Known starting states: nothing but the changes below is announced.
    for id in &campaigns {
        names.sim_admin(
            "PATCH",
            &format!("/admin/campaigns/{id}"),
            r#"{"campaignStatus":"live","errors":[]}"#,
        );
    }

    let config_dir = tempfile::tempdir().expect("a config directory");
    let ids: Vec<String> = campaigns.iter().map(|id| format!("{id:?}")).collect();
    let config = config_dir.path().join("campaign-watcher.toml");
    std::fs::write(
        &config,
        format!(
            r#"[sigmamind]
base_url = "http://{sim_listen}"
api_key_file = "/run/secrets/sigmamind_api_key"
timeout = "2s"
max_requests_per_second = 0

[watch]
campaigns = [{ids}]
interval = "1s"

[http]
listen = "0.0.0.0:{WATCHER_PORT}"

[channels.terminal]
kind = "console"
"#,
            ids = ids.join(", ")
        ),
    )
    .expect("the config can be written");
    let key_file = config_dir.path().join("sigmamind_api_key");
    std::fs::write(&key_file, TEST_KEY).expect("the key file can be written");
    let config_mount = format!(
        "{}:/etc/campaign-watcher/campaign-watcher.toml:ro",
        config.display()
    );
    let key_mount = format!("{}:/run/secrets/sigmamind_api_key:ro", key_file.display());
    let state_mount = format!("{}:/var/lib/campaign-watcher", names.volume);
    // The documented command (docs/container.md), inside the pod.
    podman_ok(
        &[
            "run",
            "--detach",
            "--pull=never",
            "--read-only",
            "--pod",
            &names.pod,
            "--name",
            &names.watcher,
            "--volume",
            &config_mount,
            "--volume",
            &key_mount,
            "--volume",
            &state_mount,
            "--env",
            "RUST_LOG=warn,campaign_watcher=info",
            &names.image,
        ],
        WITHIN,
    );
    assert!(
        eventually(WITHIN, || names.ready()),
        "healthcheck --ready passes in the run container: {}",
        podman(&["logs", &names.watcher], WITHIN).stderr
    );
    let inspected = podman_ok(
        &[
            "inspect",
            "--format",
            "{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}",
            &names.watcher,
        ],
        WITHIN,
    );
    assert_eq!(inspected.trim(), "true 65532:65532");
    // The host's view (no user namespace here), so a passwd entry in the base
    // cannot turn the number into a name.
    let processes = podman_ok(&["top", &names.watcher, "huser", "hgroup"], WITHIN);
    assert!(
        processes
            .lines()
            .skip(1)
            .all(|line| line.split_whitespace().eq(["65532", "65532"])),
        "every process runs as 65532: {processes}"
    );
    // The image's own HEALTHCHECK (liveness) passes too.
    podman_ok(&["healthcheck", "run", &names.watcher], WITHIN);
    // The fresh volume took the image directory's owner, so SQLite could create its file.
    let mountpoint = podman_ok(
        &[
            "volume",
            "inspect",
            "--format",
            "{{.Mountpoint}}",
            &names.volume,
        ],
        WITHIN,
    );
    let state_db = Path::new(mountpoint.trim()).join("state.db");
    assert!(state_db.exists(), "the state lives on the volume");
    {
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(mountpoint.trim())
            .expect("the volume")
            .uid();
        assert_eq!(
            owner, 65532,
            "the state directory belongs to the runtime user"
        );
    }

    // --- one change, announced once ------------------------------------------
    assert!(names.alert_lines().is_empty(), "{:?}", names.alert_lines());
    names.sim_admin(
        "PATCH",
        &format!("/admin/campaigns/{}", campaigns[0]),
        r#"{"campaignStatus":"paused"}"#,
    );
    assert!(
        eventually(WITHIN, || names.alert_lines().len() == 1),
        "the pause is announced: {:?}",
        names.alert_lines()
    );
    let before_restart = names.alert_lines();
    assert!(
        before_restart[0].contains("campaign.status_changed")
            && before_restart[0].contains(campaigns[0].as_str()),
        "{before_restart:?}"
    );

    // --- a graceful stop (exit 0, the shutdown logged); start again on the
    // same volume. The grace before SIGKILL is generous: a killed daemon
    // would exit 137, which the check below catches. How long a stop takes
    // is measured, not asserted: printed (--nocapture), kept in BENCHMARKS.md.
    let stop = ["stop", "--time", "60", names.watcher.as_str()];
    let stopping = Instant::now();
    podman_ok(&stop, Duration::from_secs(120));
    eprintln!("podman stop took {:?}", stopping.elapsed());
    names.assert_stopped_gracefully(1);
    podman_ok(&["start", &names.watcher], WITHIN);
    assert!(
        eventually(WITHIN, || names.ready()),
        "ready again after the restart: {}",
        podman(&["logs", &names.watcher], WITHIN).stderr
    );
    // Ready means a cycle read the API; two more for good measure.
    names.wait_cycles(2);
    assert_eq!(
        names.alert_lines(),
        before_restart,
        "nothing is re-announced after the restart"
    );

    names.sim_admin(
        "PATCH",
        &format!("/admin/campaigns/{}", campaigns[1]),
        r#"{"campaignStatus":"paused"}"#,
    );
    assert!(
        eventually(WITHIN, || names.alert_lines().len() == 2),
        "the change after the restart is announced: {:?}",
        names.alert_lines()
    );
    names.wait_cycles(2);
    let after = names.alert_lines();
    assert_eq!(after.len(), 2, "announced once: {after:?}");
    assert!(after[1].contains(campaigns[1].as_str()), "{after:?}");
    let logs = podman(&["logs", &names.watcher], WITHIN);
    assert!(
        !format!("{}{}", logs.stdout, logs.stderr).contains(TEST_KEY),
        "the API key never appears in the container's output"
    );

    let stopping = Instant::now();
    podman_ok(&stop, Duration::from_secs(120));
    eprintln!("podman stop took {:?}", stopping.elapsed());
    names.assert_stopped_gracefully(2);
    eprintln!("image test took {:?}", started.elapsed());
}
