/* The sandbox ("pause") process of the test pods: holds the pod's namespaces, reaps children
 * (it is PID 1 of its PID namespace) and exits 0 on SIGTERM or SIGINT. Built static
 * (gcc -static) so that it runs from an image holding only this file. Touches no kernel state. */
#include <signal.h>
#include <sys/wait.h>

static volatile sig_atomic_t stopping;

static void onStop(int sig) {
  (void)sig;
  stopping = 1;
}

static void onChild(int sig) {
  (void)sig;
}

int main(void) {
  sigset_t block, wait_mask;
  struct sigaction stop = {0}, child = {0};
  stop.sa_handler = onStop;
  child.sa_handler = onChild;
  child.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGTERM, &stop, 0);
  sigaction(SIGINT, &stop, 0);
  sigaction(SIGCHLD, &child, 0);
  /* Blocked outside sigsuspend, so a signal between the check and the wait is not lost. */
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGCHLD);
  sigprocmask(SIG_BLOCK, &block, &wait_mask);
  sigdelset(&wait_mask, SIGTERM);
  sigdelset(&wait_mask, SIGINT);
  sigdelset(&wait_mask, SIGCHLD);
  while (!stopping) {
    sigsuspend(&wait_mask);
    while (waitpid(-1, 0, WNOHANG) > 0) {
    }
  }
  return 0;
}
