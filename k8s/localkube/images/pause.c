/* The pod sandbox's first process: holds the pod's namespaces open, reaps the
 * zombies of a shared-PID pod, and exits on SIGINT/SIGTERM. Built static so the
 * image is this one file. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) { _exit(128 + sig); }

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction stop = {.sa_handler = on_stop};
  struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP};
  if (getpid() != 1) {
    /* Not an error: useful when run by hand, but say what it is for. */
    static const char msg[] = "pause: meant to run as PID 1 of a pod sandbox\n";
    (void)!write(2, msg, sizeof msg - 1);
  }
  if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0 ||
      sigaction(SIGCHLD, &child, NULL) < 0)
    return 1;
  for (;;)
    pause();
}
