/* killguard: keeps a PRRTE daemon (prted) from stopping itself when it signals a rank it has just forked.
 *
 * recapp-agent preloads it into the programs it starts (LD_PRELOAD, never inherited: see below).
 *
 * Why (issue 16, docs/prrte-hang.md): when a rank fails at once, the HNP orders every daemon to kill
 * its local ranks (SIGCONT, SIGTERM, then SIGKILL, each to the child's process group). In PRRTE
 * 3.0.x do_parent() returns right after fork() (the PRTE_HAVE_STOP_ON_EXEC branch skips the blocking
 * read of the exec pipe), so the kill can reach a child that has not yet exec'd its program. That
 * child is still a copy of the daemon:
 *   - before its own setpgid(0, 0) it is in the daemon's group, so getpgid(child) is the daemon's
 *     group and the daemon signals itself;
 *   - until exec it runs the daemon's signal handlers, libevent's, which write the signal number to
 *     the event loop's socketpair it shares with the daemon: the *daemon's* loop then handles the
 *     child's SIGTERM as its own.
 * Either way the daemon makes a forced exit (ess_base_std_prted.c, shutdown_signal), the HNP calls it
 * a lost daemon and exits 0, and the failed rank's status is gone. Upstream removed that branch
 * (openpmix/prrte 2c82be0, "odls: fix STOP_ON_EXEC race between do_parent and
 * wait_signal_callback": the daemon waits for the exec) and refuses non-positive pids (e201bbb,
 * "Repair the odls defects a deep review uncovered"), on master only: no release has either.
 *
 * What it does, in kill() only:
 *   - kill(0, sig) and kill(-own_group, sig) go to the other members of the caller's group, never to
 *     the caller itself;
 *   - a signal that can be caught (anything but SIGKILL and SIGSTOP) is not sent to the caller's own
 *     children that have not exec'd yet (they still run the caller's executable): they would hand it
 *     to the caller. PRRTE's SIGKILL, 250 ms later, still ends such a child;
 *   - everything else is passed through unchanged (one kill() call when nothing is held back).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef int (*kill_fn)(pid_t, int);

static kill_fn real_kill(void)
{
    static kill_fn fn;
    if (fn == NULL) {
        fn = (kill_fn) dlsym(RTLD_NEXT, "kill");
    }
    return fn;
}

/* Not inherited: the daemon's children (the ranks, nested in an APP whose filesystem has no such
 * library) must not try to preload it. Runs before main(), so PRRTE copies an environment without
 * it. */
__attribute__((constructor)) static void killguard_init(void)
{
    unsetenv("LD_PRELOAD");
}

/* The parent and the process group of pid, from /proc/PID/stat (fields 4 and 5, after the
 * parenthesised comm, which may hold spaces and parentheses itself). 0, or -1 when pid is gone. */
static int stat_of(const char *pid, pid_t *parent, pid_t *group)
{
    char path[64], buf[512];
    ssize_t n;
    int fd;
    char *close_paren;
    long ppid, pgrp;

    if (snprintf(path, sizeof(path), "/proc/%s/stat", pid) >= (int) sizeof(path)) {
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    close_paren = strrchr(buf, ')');
    /* ") S PPID PGRP ..." */
    if (close_paren == NULL || sscanf(close_paren + 1, " %*c %ld %ld", &ppid, &pgrp) != 2) {
        return -1;
    }
    *parent = (pid_t) ppid;
    *group = (pid_t) pgrp;
    return 0;
}

static pid_t group_of(const char *pid)
{
    pid_t parent, group;
    return stat_of(pid, &parent, &group) == 0 ? group : -1;
}

/* True for a child of the caller that still runs the caller's executable (forked, not yet exec'd). */
static int unexeced_child(const char *pid)
{
    char path[64], mine[4096], theirs[4096];
    ssize_t a, b;

    pid_t parent, group;

    if (stat_of(pid, &parent, &group) != 0 || parent != getpid()) {
        return 0;
    }
    if (snprintf(path, sizeof(path), "/proc/%s/exe", pid) >= (int) sizeof(path)) {
        return 0;
    }
    a = readlink("/proc/self/exe", mine, sizeof(mine) - 1);
    b = readlink(path, theirs, sizeof(theirs) - 1);
    if (a <= 0 || b <= 0) {
        return 0;
    }
    mine[a] = theirs[b] = '\0';
    return strcmp(mine, theirs) == 0;
}

static int catchable(int sig)
{
    return sig != SIGKILL && sig != SIGSTOP && sig != 0;
}

/* Deliver sig to the members of group one by one: not the caller, and for a catchable signal not
 * the caller's unexec'd children. As kill() does, -1/ESRCH when nobody was there to get it. */
static int signal_members(pid_t group, int sig)
{
    DIR *proc = opendir("/proc");
    struct dirent *entry;
    pid_t self = getpid();
    int found = 0, saved = errno;

    if (proc == NULL) {
        return -1;
    }
    while ((entry = readdir(proc)) != NULL) {
        char *end;
        long pid = strtol(entry->d_name, &end, 10);
        if (*end != '\0' || pid <= 0 || (pid_t) pid == self || group_of(entry->d_name) != group) {
            continue;
        }
        found++;
        if (!(catchable(sig) && unexeced_child(entry->d_name))) {
            real_kill()((pid_t) pid, sig);
        }
    }
    closedir(proc);
    errno = saved;
    if (found == 0) {
        errno = ESRCH;
        return -1;
    }
    return 0;
}

/* True when some member of group is a child the caller must not hand a catchable signal to. */
static int group_holds_unexeced_child(pid_t group)
{
    DIR *proc = opendir("/proc");
    struct dirent *entry;
    int held = 0;

    if (proc == NULL) {
        return 0;
    }
    while (!held && (entry = readdir(proc)) != NULL) {
        char *end;
        long pid = strtol(entry->d_name, &end, 10);
        if (*end == '\0' && pid > 0 && group_of(entry->d_name) == group && unexeced_child(entry->d_name)) {
            held = 1;
        }
    }
    closedir(proc);
    return held;
}

int kill(pid_t pid, int sig)
{
    pid_t own = getpgrp();
    char name[32];

    if (pid == 0 || pid == -own) {
        return signal_members(own, sig);
    }
    if (catchable(sig)) {
        if (pid > 0) {
            snprintf(name, sizeof(name), "%d", (int) pid);
            if (unexeced_child(name)) {
                return 0; /* held back: the child is about to exec, or to get SIGKILL */
            }
        } else if (pid < -1 && group_holds_unexeced_child(-pid)) {
            return signal_members(-pid, sig);
        }
    }
    return real_kill()(pid, sig);
}
