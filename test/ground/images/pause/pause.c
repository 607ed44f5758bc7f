/*
 * The ground's pause program: the first process of every pod sandbox. It holds
 * the pod's namespaces open, so it must do nothing and use nothing: sleep until
 * told to stop. As PID 1 of a pod that shares its PID namespace it also adopts
 * orphans, so it reaps them instead of leaving zombies. PID 1 gets no default
 * signal actions, which is why SIGINT and SIGTERM need handlers to end it.
 * Written for the test ground; built with `gcc -static -Os` (no libc needed in
 * the image).
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { _exit(sig == SIGTERM || sig == SIGINT ? 0 : 1); }

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    static const char version[] = "ground-pause 1\n";
    return write(STDOUT_FILENO, version, sizeof version - 1) < 0;
  }
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = stop;
  if (sigaction(SIGINT, &action, NULL) || sigaction(SIGTERM, &action, NULL)) return 1;
  action.sa_handler = reap;
  action.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  if (sigaction(SIGCHLD, &action, NULL)) return 1;
  for (;;) pause();
}
