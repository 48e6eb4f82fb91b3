"""Running agent-written scripts (and the task's eval.py) in a confined child process.

Every run goes through a small supervisor (prelude.py) that forks the script, forwards signals, reaps
orphans and reports the script's exit status on a private pipe. The package's modules:
- environment: which variables a script sees (allow-list, secrets dropped), HOME/TMPDIR, default limits;
- namespaces: which isolation works here (probed once), and what a confined run hides;
- launch: the prelude's text, config and argv; prelude: the supervisor itself, run in the child only;
- runner: run_process and run_script, the limits, the timeout, the clean-up, ScriptRun;
- output: bounded capture of stdout and stderr, truncate_middle, clean_output, last_traceback.

Enforced everywhere (Linux):
- its own session and process group, stdin empty, cwd the workspace; a wall-clock timeout: SIGTERM, and
  SIGKILL from the supervisor a second later (from here after 2 s should the supervisor not be done);
- every process the run started dies with it: in a PID namespace the kernel kills all of them when the
  supervisor (its init) exits; without one the supervisor is a child subreaper, so orphans, setsid and
  double-fork escapes included, come back to it and it kills them all; on top of that the process group
  and any process still carrying the run's marker variable are killed;
- RLIMIT_AS (address space per process; 0 = none), RLIMIT_CPU (a CPU-seconds backstop), RLIMIT_FSIZE
  (size of any one file: Python sees "File too large"), RLIMIT_CORE 0 (a crash writes no core file);
- output: each stream captured up to 400,000 characters (head and a rolling tail), the observation cut in
  the middle to max_output_chars, invalid UTF-8 replaced, ANSI escapes and control characters removed; a
  pipe held open by a survivor is drained for at most a second, never waited on;
- an environment built from an allow-list (ALLOWED_ENV, ALLOWED_ENV_PREFIXES: PATH, locale, TZ, thread
  counts, CUDA ..., plus the task's env_allow) with SECRET_PATTERNS as a second filter, so API keys and
  tokens never reach a script; HOME and TMPDIR inside the workspace;
- as root: every capability outside Docker's default set (less MKNOD) leaves the script's bounding set:
  SYS_ADMIN (mounts, namespaces), SYS_RESOURCE (it could raise its own hard limits), SYS_PTRACE, MKNOD,
  SYS_RAWIO, SYS_BOOT, SYS_TIME, NET_ADMIN, SYS_MODULE ...

Enforced where namespaces work (root, or unprivileged user namespaces); ScriptRun says what held:
- network_isolated: `unshare -n`: every connection fails at once, the host's loopback services included;
- filesystem_confined: a private mount namespace where only the workspace and a private /dev/shm are
  writable, every other mount is read-only (also /proc/sys and /proc/sysrq-trigger); block devices and
  /dev/mem, /dev/kmem, /dev/port are covered by /dev/null; hidden_paths (the task's scripts/, the
  workspace's .backup/) and the real HOME (its dotfiles may hold credentials; what Python needs inside it
  is bound back in) are covered by an empty read-only tmpfs; read_only_paths are bind-mounted read-only
  onto themselves, so they cannot be written, replaced, renamed or deleted; hard links out of the
  workspace fail (EXDEV); the workspace is mounted nodev and nosuid;
- processes_contained: a PID namespace with its own /proc: host processes, and their environment with the
  agent's API keys, are out of sight and out of reach;
- process_limit: from Linux 6.14 on pid_max is per PID namespace: a run gets at most max_processes + 300
  processes and threads (the kernel keeps the first 300 ids for start-up), a hard cap on fork bombs.

Not enforced (what the OS cannot do here without a container runtime or cgroup delegation):
- reads of files outside the workspace that the OS user may read, other than the hidden paths: system
  files, the virtual environment, the agent's own code;
- total disk use and file count (only the size of each file): a script can still fill the disk;
- memory summed over processes (RLIMIT_AS is per process and there is no cgroup): N children may use N
  times the limit; GPU memory and GPU time; RLIMIT_AS breaks CUDA (seen on an H100: 4 GiB makes
  cudaGetDeviceCount fail with "out of memory"), so GPU tasks set memory_mb to 0;
- before Linux 6.14 the number of processes (RLIMIT_NPROC does not bind root): a fork bomb is not capped,
  only killed completely at the end;
- without namespaces: the network, writes outside the workspace, hidden paths and read-only mounts (the
  check-and-restore before scoring still repairs read-only files: integrity.py), and the host's processes:
  a script may signal any process of its user, its supervisor included, and processes it started after
  killing the supervisor and clearing its environment can outlive the run.
"""

from budgetmlagent.workspace.sandbox.environment import (
    ALLOWED_ENV,
    ALLOWED_ENV_PREFIXES,
    DEFAULT_MAX_PROCESSES,
    SANDBOX_MARKER,
    SECRET_PATTERNS,
    cpu_backstop,
    is_allowed_env_name,
    is_secret_name,
    sandbox_env,
    scrub_env,
)
from budgetmlagent.workspace.sandbox.namespaces import (
    Isolation,
    default_hidden_paths,
    describe_sandbox,
    hide_plan,
    isolation,
    kept_paths,
    namespace_prefix,
    network_isolation_prefix,
    pid_max_is_namespaced,
)
from budgetmlagent.workspace.sandbox.output import (
    clean_output,
    last_traceback,
    truncate_middle,
)
from budgetmlagent.workspace.sandbox.runner import (
    ScriptRun,
    run_process,
    run_script,
    script_argument,
)

__all__ = [
    "ALLOWED_ENV",
    "ALLOWED_ENV_PREFIXES",
    "DEFAULT_MAX_PROCESSES",
    "SANDBOX_MARKER",
    "SECRET_PATTERNS",
    "Isolation",
    "ScriptRun",
    "clean_output",
    "cpu_backstop",
    "default_hidden_paths",
    "describe_sandbox",
    "hide_plan",
    "is_allowed_env_name",
    "is_secret_name",
    "isolation",
    "kept_paths",
    "last_traceback",
    "namespace_prefix",
    "network_isolation_prefix",
    "pid_max_is_namespaced",
    "run_process",
    "run_script",
    "sandbox_env",
    "script_argument",
    "scrub_env",
    "truncate_middle",
]
