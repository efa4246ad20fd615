//! Child processes of a run — the `interlink gateway` binary, `bore` and `rathole` — plus
//! free ports, RSS readings and the file-descriptor limit.
//!
//! Every child is started by the harness, bound to 127.0.0.1 and killed (by its own pid)
//! when its [`Child`] handle is dropped.

use anyhow::{Context, Result, bail};
use interlink_core::relay::connection_string::ConnectionString;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Pids of every child started by [`Child::spawn`] (for [`CpuSnapshot`]).
static CHILDREN: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// A child process, killed and reaped on drop.
pub struct Child {
    name: String,
    inner: std::process::Child,
}

impl Child {
    /// Spawns `cmd` (stdin closed, stderr discarded unless `INTERLINK_BENCH_VERBOSE` is set).
    /// The child gets SIGKILL if the harness dies first (`PR_SET_PDEATHSIG`), so an
    /// interrupted run leaves nothing behind.
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Child> {
        use std::os::unix::process::CommandExt;
        let verbose = std::env::var_os("INTERLINK_BENCH_VERBOSE").is_some();
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.stdin(Stdio::null());
        if !verbose {
            cmd.stderr(Stdio::null());
        }
        let inner = cmd.spawn().with_context(|| format!("starting {name}"))?;
        CHILDREN
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(inner.id());
        Ok(Child {
            name: name.to_string(),
            inner,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    /// Fails when the process has already exited.
    pub fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.inner.try_wait()? {
            bail!("{} exited early: {status}", self.name);
        }
        Ok(())
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.inner.kill();
        let _ = self.inner.wait();
        let pid = self.inner.id();
        CHILDREN
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|c| *c != pid);
    }
}

/// CPU accounting at one moment, in clock ticks: the whole machine (busy and total, from
/// /proc/stat) and this harness with its children (live ones, plus those already reaped).
/// Two snapshots tell how busy *other* processes kept the machine in between.
#[derive(Debug, Clone, Copy)]
pub struct CpuSnapshot {
    busy: u64,
    total: u64,
    ours: u64,
}

/// Fields 14–17 (utime, stime, cutime, cstime) of /proc/PID/stat, the last two only when
/// `with_children`.
fn proc_ticks(pid: &str, with_children: bool) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some((_, rest)) = s.rsplit_once(')') else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let idx: &[usize] = if with_children {
        &[11, 12, 13, 14]
    } else {
        &[11, 12]
    };
    idx.iter()
        .filter_map(|i| f.get(*i).and_then(|v| v.parse::<u64>().ok()))
        .sum()
}

impl CpuSnapshot {
    /// Reads the counters now.
    pub fn now() -> CpuSnapshot {
        let (mut busy, mut total) = (0, 0);
        if let Ok(stat) = std::fs::read_to_string("/proc/stat")
            && let Some(line) = stat.lines().next()
        {
            // cpu user nice system idle iowait irq softirq steal ...
            let v: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .take(8)
                .filter_map(|x| x.parse().ok())
                .collect();
            // Busy: user + nice + system + steal. irq/softirq are left out: the harness's own
            // loopback traffic is processed there and not charged to any process.
            let at = |i: usize| v.get(i).copied().unwrap_or(0);
            total = v.iter().sum();
            busy = at(0) + at(1) + at(2) + at(7);
        }
        let mut ours = proc_ticks("self", true);
        for pid in CHILDREN.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            ours += proc_ticks(&pid.to_string(), false);
        }
        CpuSnapshot { busy, total, ours }
    }

    /// Share of the machine's CPU time (0–100 %) used by processes other than the harness
    /// and its children between `self` and `later`.
    pub fn others_percent(&self, later: &CpuSnapshot) -> f64 {
        let total = later.total.saturating_sub(self.total);
        if total == 0 {
            return 0.0;
        }
        let busy = later.busy.saturating_sub(self.busy);
        let ours = later.ours.saturating_sub(self.ours);
        100.0 * busy.saturating_sub(ours) as f64 / total as f64
    }
}

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released). For
/// tools that need a port number in their configuration before they start.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// `true` when 127.0.0.1:`port` can be bound right now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Waits (at most `limit`) until something accepts TCP connections on 127.0.0.1:`port`.
pub fn wait_port(port: u16, limit: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing listens on 127.0.0.1:{port} after {limit:?}")
}

/// Resident set size of `pid` in KiB (`VmRSS` of /proc/PID/status).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .context("no VmRSS line")
}

/// Number of open file descriptors of `pid`.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Raises the soft `RLIMIT_NOFILE` to at least `want` (bounded by the hard limit); children
/// inherit it. Returns the soft and hard limits in force afterwards.
pub fn raise_nofile(want: u64) -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return (0, 0);
        }
        if lim.rlim_cur < want {
            let new = libc::rlimit {
                rlim_cur: want.min(lim.rlim_max),
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &new) == 0 {
                lim = new;
            }
        }
    }
    (lim.rlim_cur, lim.rlim_max)
}

/// The `interlink` binary: `$INTERLINK_BIN`, else the workspace's `target/release/interlink`.
pub fn interlink_bin() -> PathBuf {
    std::env::var_os("INTERLINK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("release")
                .join("interlink")
        })
}

/// SAS rule name the harness gives the gateway.
pub const KEY_NAME: &str = "bench";
/// SAS key the harness gives the gateway (loopback only; not a secret).
pub const KEY: &str = "YmVuY2gta2V5LWZvci1sb29wYmFjay1vbmx5LW5vdC1hLXNlY3JldA==";

/// An `interlink gateway` child process on 127.0.0.1 with an OS-chosen port.
pub struct GatewayProc {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl GatewayProc {
    /// Starts `bin gateway --bind 127.0.0.1:0 --key bench=…` (every hybrid connection name
    /// exists) and waits for its "listening on" line. `smol_threads` sets `SMOL_THREADS`.
    pub fn start(bin: &Path, smol_threads: Option<usize>) -> Result<GatewayProc> {
        if !bin.exists() {
            bail!(
                "{} not found: build it with `cargo build --release -p interlink-cli` or set INTERLINK_BIN",
                bin.display()
            );
        }
        let mut cmd = Command::new(bin);
        cmd.args([
            "gateway",
            "--bind",
            "127.0.0.1:0",
            "--key",
            &format!("{KEY_NAME}={KEY}"),
        ])
        .env("INTERLINK_LOG", "warn")
        .stdout(Stdio::piped());
        match smol_threads {
            Some(n) => {
                cmd.env("SMOL_THREADS", n.to_string());
            }
            None => {
                cmd.env_remove("SMOL_THREADS");
            }
        }
        let mut child = Child::spawn("interlink gateway", &mut cmd)?;
        let stdout = child.inner.stdout.take().context("gateway stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(rest.trim().to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .context("the gateway did not print its address")?;
        let addr: SocketAddr = addr.parse().context("the gateway's address")?;
        Ok(GatewayProc { child, addr })
    }

    /// The connection string of the harness's rule.
    pub fn connection_string(&self) -> ConnectionString {
        format!(
            "Endpoint=sb://{}/;SharedAccessKeyName={KEY_NAME};SharedAccessKey={KEY}",
            self.addr
        )
        .parse()
        .expect("a valid connection string")
    }

    /// Resident set size in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        rss_kib(self.child.pid())
    }
}

/// Where `bore` and `rathole` are looked for.
#[derive(Debug, Clone)]
pub struct Tools {
    /// The folder (e.g. /tmp/interlink-bench-tools/bin).
    pub dir: PathBuf,
}

impl Tools {
    /// The path of `name` in the folder, if it is there.
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        let p = self.dir.join(name);
        p.is_file().then_some(p)
    }
}

/// A running TCP tunnel: its processes and the public port that forwards to the local one.
pub struct Tunnel {
    /// `bore` or `rathole`.
    pub name: &'static str,
    /// Server first, then client.
    pub children: Vec<Child>,
    /// Where senders connect (127.0.0.1).
    pub public_port: u16,
    /// Removed on drop.
    pub temp_dir: Option<PathBuf>,
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.children.clear();
        if let Some(d) = &self.temp_dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// bore's control port: fixed by bore itself (bore-cli 0.6 has no option to change it).
pub const BORE_CONTROL_PORT: u16 = 7835;

/// `bore server` + `bore local` forwarding a free public port to 127.0.0.1:`local_port`.
/// The caller checks that the tunnel carries traffic (bore binds the public port only
/// once the client has said hello).
pub fn start_bore(bin: &Path, local_port: u16) -> Result<Tunnel> {
    if !port_is_free(BORE_CONTROL_PORT) {
        bail!("bore's fixed control port {BORE_CONTROL_PORT} is in use");
    }
    let public = free_port()?;
    let server = Child::spawn(
        "bore server",
        Command::new(bin)
            .args(["server", "--bind-addr", "127.0.0.1"])
            .args(["--min-port", &public.to_string()])
            .args(["--max-port", &public.to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    )?;
    wait_port(BORE_CONTROL_PORT, Duration::from_secs(5))?;
    let client = Child::spawn(
        "bore local",
        Command::new(bin)
            .args(["local", &local_port.to_string()])
            .args(["--local-host", "127.0.0.1", "--to", "127.0.0.1"])
            .args(["--port", &public.to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    )?;
    Ok(Tunnel {
        name: "bore",
        children: vec![server, client],
        public_port: public,
        temp_dir: None,
    })
}

/// `rathole` server + client (TCP transport, defaults otherwise) forwarding a free public
/// port to 127.0.0.1:`local_port`, configured by TOML files in a temp folder.
pub fn start_rathole(bin: &Path, local_port: u16) -> Result<Tunnel> {
    let dir = std::env::temp_dir().join(format!(
        "interlink-bench-rathole-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(&dir)?;
    let control = free_port()?;
    let public = free_port()?;
    let server_toml = format!(
        "[server]\nbind_addr = \"127.0.0.1:{control}\"\ndefault_token = \"bench\"\n\n\
         [server.services.bench]\nbind_addr = \"127.0.0.1:{public}\"\n"
    );
    let client_toml = format!(
        "[client]\nremote_addr = \"127.0.0.1:{control}\"\ndefault_token = \"bench\"\n\n\
         [client.services.bench]\nlocal_addr = \"127.0.0.1:{local_port}\"\n"
    );
    let server_path = dir.join("server.toml");
    let client_path = dir.join("client.toml");
    std::fs::write(&server_path, server_toml)?;
    std::fs::write(&client_path, client_toml)?;
    let mut tunnel = Tunnel {
        name: "rathole",
        children: Vec::new(),
        public_port: public,
        temp_dir: Some(dir),
    };
    tunnel.children.push(Child::spawn(
        "rathole server",
        Command::new(bin)
            .arg("--server")
            .arg(&server_path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    )?);
    wait_port(control, Duration::from_secs(5))?;
    tunnel.children.push(Child::spawn(
        "rathole client",
        Command::new(bin)
            .arg("--client")
            .arg(&client_path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    )?);
    Ok(tunnel)
}
